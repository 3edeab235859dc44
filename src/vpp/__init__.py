"""vpp: a virtual power plant controller for demand response.

Enterprises register flexible resources, grid operators issue events, and the
controller computes baselines, solves a MILP dispatch and sends setpoints.
"""

__version__ = "0.1.0"
