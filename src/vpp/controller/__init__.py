"""The async controller: event lifecycle, dispatcher, monitor and re-dispatch.

It depends on the device fabric only through :class:`vpp.device_adapters.DeviceAdapter` and
on time only through a :class:`Clock`, so the service and the simulator run the same code.
"""

from vpp.controller.clock import Clock, SimulatedClock, WallClock
from vpp.controller.controller import Controller, ControllerSettings, EventNotFoundError
from vpp.controller.lifecycle import EventState, Lifecycle, StateChange, TransitionError
from vpp.controller.monitor import Monitor
from vpp.controller.outcome import EventOutcome, IntervalDelivery, event_outcome
from vpp.controller.run import EventRun, Fault, Replan

__all__ = [
    "Clock",
    "Controller",
    "ControllerSettings",
    "EventNotFoundError",
    "EventOutcome",
    "EventRun",
    "EventState",
    "Fault",
    "IntervalDelivery",
    "Lifecycle",
    "Monitor",
    "Replan",
    "SimulatedClock",
    "StateChange",
    "TransitionError",
    "WallClock",
    "event_outcome",
]
