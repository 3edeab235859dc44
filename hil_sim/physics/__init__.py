"""Device physics of the hardware-in-the-loop simulator, one module per resource kind;
each registers its builder in one line (:func:`register_physics`, in ``site.py``).

Each device keeps its state (power, SoC, indoor temperature, EV sessions) and advances it
with ``step(t0, t1, command) -> mean power over (t0, t1] [kW]``; ``command`` is ``None``
for normal operation or a :class:`Command` (mode, power_kw). The physics is written
independently of the optimiser's models but agrees with them in expectation, so a plan
that is right on paper is also right on the simulated meters, up to ramps and noise.
"""

from vpp.hil_sim.physics.base import (
    DEFAULT_SETTINGS,
    DEVICE_BUILDERS,
    BuildDevice,
    Command,
    DayClock,
    Device,
    DeviceContext,
    PhysicsSettings,
    as_utc,
    ramp,
    register_physics,
    shadow_of,
)
from vpp.hil_sim.physics.battery import BatteryDevice
from vpp.hil_sim.physics.curtailable import CurtailableDevice, natural_load_kw
from vpp.hil_sim.physics.ev import EvDeparture, EvPoolDevice, allocate_least_laxity
from vpp.hil_sim.physics.hvac import HvacDevice
from vpp.hil_sim.physics.pv import PvDevice
from vpp.hil_sim.physics.site import build_device, devices_for_site, history_of, site_refs

__all__ = [
    "DEFAULT_SETTINGS",
    "DEVICE_BUILDERS",
    "BatteryDevice",
    "BuildDevice",
    "Command",
    "CurtailableDevice",
    "DayClock",
    "Device",
    "DeviceContext",
    "EvDeparture",
    "EvPoolDevice",
    "HvacDevice",
    "PhysicsSettings",
    "PvDevice",
    "allocate_least_laxity",
    "as_utc",
    "build_device",
    "devices_for_site",
    "history_of",
    "natural_load_kw",
    "ramp",
    "register_physics",
    "shadow_of",
    "site_refs",
]
