"""Hardware-in-the-loop simulation: device physics, simulated gateways and fault injection.

Why it exists: the controller must be judged against devices that behave like field
equipment, not like the optimiser's own model of them. So the physics here is written
independently (ramps, noise, SoC limits, thermal inertia, EV sessions that arrive late),
and the gateways speak the same MQTT contract v1 a field gateway does, over any
:class:`vpp.device_adapters.Link` (the in-memory broker for embedded runs, MQTT otherwise).
Faults (devices that ignore commands, gateways that drop off, meters that stick) are drawn
reproducibly from a seed, so a run that fails fails the same way every time.

The core never imports this package; it may import the domain, the adapters and the
controller (to drive a run).
"""

from vpp.hil_sim.faults import (
    BrokerOutage,
    FaultAssignment,
    FaultPlan,
    FaultSpec,
    IgnoreCommands,
    LateAck,
    Offline,
    SiteFaults,
    Span,
    StuckMeter,
    TelemetrySilent,
)
from vpp.hil_sim.gateway import (
    GatewayStats,
    ResourceTrace,
    SimulatedGateway,
    setpoint_filter,
    status_will,
)
from vpp.hil_sim.physics import Command, Device, PhysicsSettings, devices_for_site
from vpp.planning import register_history_reader
from vpp.synthetic import meter_history

# Demo districts' meter history is generated here, at the edge, never by planning itself.
register_history_reader("synthetic", meter_history)

__all__ = [
    "BrokerOutage",
    "Command",
    "Device",
    "FaultAssignment",
    "FaultPlan",
    "FaultSpec",
    "GatewayStats",
    "IgnoreCommands",
    "LateAck",
    "Offline",
    "PhysicsSettings",
    "ResourceTrace",
    "SimulatedGateway",
    "SiteFaults",
    "Span",
    "StuckMeter",
    "TelemetrySilent",
    "devices_for_site",
    "setpoint_filter",
    "status_will",
]
