"""Topics of the MQTT contract v1 as one typed value; no module formats them by hand.

``vpp/v1/{site_id}/{resource_id}/{telemetry|setpoint|ack}`` and ``vpp/v1/{site_id}/status``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from vpp.domain import VppError
from vpp.domain._base import SLUG_PATTERN

PREFIX = "vpp/v1"
#: Where `vpp telemetry-worker` processes publish their batches for the controller (not
#: part of the gateway contract; vpp.telemetry_worker).
WORKER_BATCH_PREFIX = "vpp-internal/v1/telemetry"
_SLUG = re.compile(SLUG_PATTERN)


class Channel(StrEnum):
    TELEMETRY = "telemetry"
    SETPOINT = "setpoint"
    ACK = "ack"
    STATUS = "status"


class TopicError(VppError, ValueError):
    """A topic that is not part of the contract."""

    def __init__(self, topic: str, reason: str) -> None:
        self.topic = topic
        self.reason = reason
        super().__init__(f"topic {topic!r}: {reason}")


@dataclass(frozen=True)
class Topic:
    """A contract topic; ``resource_id`` is None exactly for the site status channel."""

    site_id: str
    resource_id: str | None
    channel: Channel

    def __post_init__(self) -> None:
        if not _SLUG.match(self.site_id):
            raise TopicError(str(self), f"site_id {self.site_id!r} is not a slug")
        if (self.channel is Channel.STATUS) != (self.resource_id is None):
            raise TopicError(str(self), "status is per site; the other channels per resource")
        if self.resource_id is not None and not _SLUG.match(self.resource_id):
            raise TopicError(str(self), f"resource_id {self.resource_id!r} is not a slug")

    def __str__(self) -> str:
        if self.resource_id is None:
            return f"{PREFIX}/{self.site_id}/{self.channel.value}"
        return f"{PREFIX}/{self.site_id}/{self.resource_id}/{self.channel.value}"

    @classmethod
    def parse(cls, text: str) -> Topic:
        """The topic a string names, or a TopicError saying why it names none."""
        parts = text.split("/")
        if parts[:2] != PREFIX.split("/"):
            raise TopicError(text, f"does not start with {PREFIX}/")
        rest = parts[2:]
        try:
            if len(rest) == 2:
                return cls(rest[0], None, Channel(rest[1]))
            if len(rest) == 3:
                return cls(rest[0], rest[1], Channel(rest[2]))
        except ValueError as exc:
            if isinstance(exc, TopicError):
                raise
            raise TopicError(text, f"unknown channel {rest[-1]!r}") from None
        raise TopicError(
            text, "expected vpp/v1/{site}/status or vpp/v1/{site}/{resource}/{channel}"
        )

    @staticmethod
    def subscription(channel: Channel) -> str:
        """The wildcard that receives a channel from every site (and resource)."""
        if channel is Channel.STATUS:
            return f"{PREFIX}/+/{channel.value}"
        return f"{PREFIX}/+/+/{channel.value}"

    @staticmethod
    def site_filter(site_id: str, channel: Channel) -> str:
        """The wildcard that covers one site's channel (every resource of it for a per-resource
        channel), or every site's for ``site_id="+"``."""
        if site_id != "+":
            Topic(site_id, None, Channel.STATUS)  # validates the site id
        if channel is Channel.STATUS:
            return f"{PREFIX}/{site_id}/{channel.value}"
        return f"{PREFIX}/{site_id}/+/{channel.value}"

    def matches(self, wildcard: str) -> bool:
        """Whether an MQTT subscription filter (``+``, ``#``) covers this topic."""
        return topic_matches(str(self), wildcard)


def topic_matches(topic: str, topic_filter: str) -> bool:
    """Whether an MQTT subscription filter (``+``, ``#``) covers a topic string."""
    levels = topic.split("/")
    patterns = topic_filter.split("/")
    for i, pattern in enumerate(patterns):
        if pattern == "#":
            return True
        if i >= len(levels) or pattern not in ("+", levels[i]):
            return False
    return len(levels) == len(patterns)
