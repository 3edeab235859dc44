"""One module per resource kind; each adds its variables and constraints as whole blocks.

Adding a kind means one module and one line in :data:`RESOURCE_BUILDERS`.
"""

from collections.abc import Callable

from vpp.domain import ResourceRef
from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources._block import KindBlock
from vpp.optimizer.resources.battery import add_battery
from vpp.optimizer.resources.curtailable import add_curtailable_load
from vpp.optimizer.resources.ev_charger import add_ev_charger_pool
from vpp.optimizer.resources.hvac import add_hvac_load
from vpp.optimizer.resources.pv import add_pv

AddKind = Callable[
    [LinearModel, list[ResourceRef], DispatchProblem, ModelContext], KindBlock | None
]

RESOURCE_BUILDERS: dict[str, AddKind] = {
    "curtailable_load": add_curtailable_load,
    "battery": add_battery,
    "ev_charger_pool": add_ev_charger_pool,
    "hvac_load": add_hvac_load,
    "pv": add_pv,
}

__all__ = ["RESOURCE_BUILDERS", "AddKind", "KindBlock"]
