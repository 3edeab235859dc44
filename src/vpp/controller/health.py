"""The health watch: which of an event's resources can no longer be counted on.

A resource fails when its gateway has been offline past a grace, its meter is stuck, a
setpoint went unanswered past ``ack_timeout_s`` or its telemetry went stale. Silence is
judged only while our own link is up and has been for a while (after a reconnection
everybody is silent), and, on a clock that runs by itself, only once the wall-time floor
has passed too: brokers and gateways answer in wall time however fast the clock runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vpp.controller.clock import Clock
from vpp.controller.monitor import Monitor
from vpp.controller.roster import Roster
from vpp.controller.run import EventRun
from vpp.controller.settings import ControllerSettings
from vpp.device_adapters.base import DeviceAdapter
from vpp.domain import SetpointMode


class HealthWatch:
    """Gateway states, our link's uptime, and the judgement of each kept resource."""

    def __init__(
        self,
        adapter: DeviceAdapter,
        clock: Clock,
        settings: ControllerSettings,
        monitor: Monitor,
        roster: Roster,
    ) -> None:
        self.adapter = adapter
        self.clock = clock
        self.settings = settings
        self.monitor = monitor
        self.roster = roster
        self.site_online: dict[str, bool] = {}
        self._offline_since: dict[str, datetime] = {}
        self._link_up_since: datetime | None = None

    def note_status(self, site_id: str, online: bool, now: datetime) -> None:
        """A gateway said it is online or offline (its offline grace starts at ``now``)."""
        self.site_online[site_id] = online
        if online:
            self._offline_since.pop(site_id, None)
        else:
            self._offline_since.setdefault(site_id, now)

    def heard_from(self, site_id: str, ts: datetime) -> None:
        """A plausible reading stamped after an ``offline`` arrived overrules it: a gateway
        that speaks is online (a stray ``offline`` must not silence a healthy site)."""
        since = self._offline_since.get(site_id)
        if since is not None and ts > since:
            del self._offline_since[site_id]
            self.site_online[site_id] = True

    def judging_silence(self, now: datetime) -> bool:
        """Silence means nothing while our own link is down or has just come back."""
        if not self.adapter.connected:
            self._link_up_since = None
            return False
        if self._link_up_since is None:
            self._link_up_since = now
        stale = timedelta(seconds=self.settings.telemetry_stale_s)
        return now - self._link_up_since >= stale and self.wall_floor_passed(
            self._link_up_since, now
        )

    def wall_floor_passed(self, since: datetime, now: datetime) -> bool:
        """Whether a silence since ``since`` has also lasted the wall-time floor, on a clock
        that runs by itself: a clock sped up 600 times makes the 90 s ack deadline 0.15 s,
        which a loaded machine's broker misses. A simulated or paced clock waits for the
        messages in flight before it moves, so its own time is the whole measure."""
        wall_s = self.clock.wall_seconds_between(since, now)
        return wall_s is None or wall_s >= self.settings.silence_floor_wall_s

    def offline(self, site_id: str, now: datetime) -> bool:
        """Offline for longer than the grace, as seen while our own link was up."""
        since = self._offline_since.get(site_id)
        if since is None or not self.adapter.connected:
            return False
        seen_from = max(since, self._link_up_since or since)
        grace = timedelta(seconds=self.settings.offline_grace_s)
        return now - seen_from > grace and self.wall_floor_passed(seen_from, now)

    def stale(self, last: datetime, now: datetime) -> bool:
        """Whether telemetry last heard at ``last`` is too old to count on."""
        stale_s = self.settings.telemetry_stale_s
        return now - last > timedelta(seconds=stale_s) and self.wall_floor_passed(last, now)

    def reachable(self, key: str, now: datetime) -> bool:
        """Whether a resource not yet in an event may be asked now: its gateway is not
        offline (not even briefly) and its telemetry is fresh and says it is available."""
        ref = self.roster.refs[key]
        if self.site_online.get(ref.site.site_id) is False:
            return False
        last = self.monitor.last_seen(key)
        return not (last is None or self.stale(last, now) or self.monitor.unavailable(key))

    def failures(self, run: EventRun, now: datetime) -> dict[str, str]:
        """Why each of the event's kept resources failed since the last look (key: reason):
        refused setpoints the acks reported, then offline, stuck, unanswered, stale."""
        reasons: dict[str, str] = dict(run.pending_faults)
        run.pending_faults.clear()
        judging = self.judging_silence(now)
        ack_deadline = now - timedelta(seconds=self.settings.ack_timeout_s)
        unanswered = {
            f"{s.site_id}/{s.resource_id}"
            for s in self.adapter.awaiting_ack()
            if s.command_id in run.command_ids
            and s.mode is not SetpointMode.RELEASE
            and s.issued_at <= ack_deadline
            and self.wall_floor_passed(s.issued_at, now)
        }
        for key in run.recovering():
            if not run.was_sent(key) or key in reasons:
                continue
            ref = self.roster.refs[key]
            last = self.monitor.last_seen(key)
            if self.offline(ref.site.site_id, now):
                reasons[key] = "gateway offline"
            elif self.monitor.stuck_since(key) is not None:
                reasons[key] = "meter stuck"
            elif judging and key in unanswered:
                reasons[key] = f"no ack within {self.settings.ack_timeout_s:.0f} s"
            elif judging and (last is None or self.stale(last, now)):
                reasons[key] = "telemetry stale"
        return reasons
