"""Benchmarks of the optimiser, the telemetry path and the simulator (``make bench``).

``python -m bench`` runs every suite and writes ``bench/results.json``; ``--quick`` runs
tiny sizes as a smoke test of the harness. :mod:`bench.reference` is an independent,
minimal build of the dispatch problem as sparse matrices passed straight to highspy: the
ratio of our build time to its build time is our modelling overhead.
"""
