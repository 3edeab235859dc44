"""The leases a protocol adapter holds for the controller, whatever the protocol.

Every adapter keeps the same promises (ARCHITECTURE.md): the setpoints still in force, so a
device that reconnects gets them again; those not yet answered, so the controller notices a
device that stays silent; and the commands already answered, so a duplicate answer (QoS 1
may deliver twice) is recognised as such. A ``release`` cancels every earlier command to the
resource; a newer command for the same ``valid_from`` replaces the older one, whose late
answer is then no news.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from vpp.domain import Setpoint, SetpointMode

#: Answered command ids remembered to recognise duplicates.
ANSWERED_MEMORY = 100_000


class LeaseBook:
    """Setpoints in force per resource (``site_id/resource_id``) and those awaiting an answer."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[datetime, Setpoint]] = {}
        """Per resource, its commands by ``valid_from``."""
        self.awaiting: dict[str, Setpoint] = {}
        """Commands sent and not yet answered, by ``command_id``."""
        self._answered: OrderedDict[str, None] = OrderedDict()

    def record(self, setpoint: Setpoint) -> list[str]:
        """Hold a setpoint being sent; returns the ids of the unanswered commands it retires."""
        leases = self.leases.setdefault(f"{setpoint.site_id}/{setpoint.resource_id}", {})
        replaced: list[Setpoint] = []
        if setpoint.mode is SetpointMode.RELEASE:
            # a release cancels every earlier command to the resource, wherever it lies
            for valid_from in [v for v, s in leases.items() if s.issued_at <= setpoint.issued_at]:
                replaced.append(leases.pop(valid_from))
        old = leases.get(setpoint.valid_from)
        if old is not None:
            replaced.append(old)  # a newer command for an interval replaces it
        leases[setpoint.valid_from] = setpoint
        retired = []
        for command in replaced:
            if self.awaiting.pop(command.command_id, None) is not None:
                self.mark_answered(command.command_id)  # a late answer is no news
                retired.append(command.command_id)
        self.awaiting[setpoint.command_id] = setpoint
        return retired

    def in_force(self, now: datetime) -> list[Setpoint]:
        """Setpoints whose lease has not lapsed at ``now`` (lapsed ones are forgotten)."""
        out: list[Setpoint] = []
        for key in list(self.leases):
            leases = self.leases[key]
            for valid_from in [v for v, s in leases.items() if s.valid_until <= now]:
                del leases[valid_from]
            if not leases:
                del self.leases[key]
            out += leases.values()
        return out

    def answer(self, command_id: str) -> Setpoint | None:
        """The command an answer is for, now answered; None: unknown or answered already."""
        setpoint = self.awaiting.pop(command_id, None)
        if setpoint is not None:
            self.mark_answered(command_id)
        return setpoint

    def answered(self, command_id: str) -> bool:
        return command_id in self._answered

    def mark_answered(self, command_id: str) -> None:
        self._answered[command_id] = None
        while len(self._answered) > ANSWERED_MEMORY:
            self._answered.popitem(last=False)
