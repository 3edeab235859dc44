"""The dispatch MILP: one formulation as vectorised blocks, solved by HiGHS.

Glossary of index names used throughout the package:

``r``
    a resource within one kind's block (rows of ``(r, t)`` arrays)
``t``
    an interval of the horizon grid (``grid``); ``dt_h`` is its length [h]
``window``
    the slice of ``t`` covered by the event
``direction``
    +1 for peak shaving (response = baseline - power), -1 for valley filling
``c``, ``k``
    a candidate curtailment block and a curtailment step

Imports only :mod:`vpp.domain`; knows nothing of MQTT, the controller or the simulator.
"""

from vpp.optimizer.capability import CapabilityReport, capability, max_sustained_response
from vpp.optimizer.check import check_dispatch
from vpp.optimizer.decompose import dispatch_decomposed
from vpp.optimizer.dispatch import dispatch
from vpp.optimizer.executors import InlineExecutor, dask_executor, dispatch_executor, process_pool
from vpp.optimizer.model import BuiltModel, build_model
from vpp.optimizer.problem import DispatchProblem, DispatchSettings

__all__ = [
    "BuiltModel",
    "CapabilityReport",
    "DispatchProblem",
    "DispatchSettings",
    "InlineExecutor",
    "build_model",
    "capability",
    "check_dispatch",
    "dask_executor",
    "dispatch",
    "dispatch_decomposed",
    "dispatch_executor",
    "max_sustained_response",
    "process_pool",
]
