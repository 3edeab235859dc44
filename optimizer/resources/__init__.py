"""One module per resource kind; each adds its variables and constraints as whole blocks.

Adding a kind means one module and one line here (:func:`register_builder`): its builder,
and the independent check of its schedules (:func:`vpp.optimizer.check.check_dispatch`).
"""

from collections.abc import Callable
from typing import Any

from vpp.domain import DispatchResult, ResourceRef, ResourceSchedule
from vpp.optimizer.linear import LinearModel
from vpp.optimizer.problem import DispatchProblem, ModelContext
from vpp.optimizer.resources import battery, curtailable, ev_charger, hvac, pv
from vpp.optimizer.resources._block import KindBlock

AddKind = Callable[
    [LinearModel, list[ResourceRef], DispatchProblem, ModelContext], KindBlock | None
]
CheckKind = Callable[[Any, ResourceSchedule, DispatchProblem, DispatchResult], list[str]]
"""Breaches of one resource's registered limits in its schedule, as lines (none: [])."""

RESOURCE_BUILDERS: dict[str, AddKind] = {}
"""Each kind's builder, in the order the model adds them."""

RESOURCE_CHECKS: dict[str, CheckKind] = {}
"""Each kind's check of a planned schedule against its registration."""


def register_builder(kind: str, add: AddKind, check: CheckKind | None = None) -> None:
    """Make ``kind`` dispatchable by the optimiser (``check``: its independent check)."""
    RESOURCE_BUILDERS[kind] = add
    if check is not None:
        RESOURCE_CHECKS[kind] = check


def unregister_builder(kind: str) -> None:
    """Forget a kind's builder and check (a test's own kind)."""
    RESOURCE_BUILDERS.pop(kind, None)
    RESOURCE_CHECKS.pop(kind, None)


register_builder(
    curtailable.KIND, curtailable.add_curtailable_load, curtailable.check_curtailable_load
)
register_builder(battery.KIND, battery.add_battery, battery.check_battery)
register_builder(ev_charger.KIND, ev_charger.add_ev_charger_pool, ev_charger.check_ev_charger_pool)
register_builder(hvac.KIND, hvac.add_hvac_load, hvac.check_hvac_load)
register_builder(pv.KIND, pv.add_pv)

__all__ = [
    "RESOURCE_BUILDERS",
    "RESOURCE_CHECKS",
    "AddKind",
    "CheckKind",
    "KindBlock",
    "register_builder",
    "unregister_builder",
]
