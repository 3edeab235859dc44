"""``python -m vpp``: the same command line as ``vpp`` (for a checkout without the script)."""

from vpp.cli import main

main()
