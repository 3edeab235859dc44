"""The ACL a provisioned broker enforces, as text: who may read and write which topics."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vpp.device_adapters.mqtt import Channel, Topic, TopicError, topic_matches
from vpp.device_adapters.mqtt.acl import (
    CONTROLLER_USERNAME,
    acl_text,
    controller_rules,
    gateway_rules,
    gateway_username,
)


def parse_acl(text: str) -> dict[str, list[tuple[str, str]]]:
    """User -> (access, filter) of a Mosquitto ACL file."""
    rules: dict[str, list[tuple[str, str]]] = {}
    user = None
    for line in text.splitlines():
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            rules[user] = []
        elif line.startswith("topic "):
            assert user is not None, "a topic line before any user applies to everyone"
            _, access, topic = line.split(" ")
            rules[user].append((access, topic))
    return rules


def allowed(rules: list[tuple[str, str]], access: str, topic: str) -> bool:
    return any(a in (access, "readwrite") and topic_matches(topic, f) for a, f in rules)


def test_acl_text_has_the_controller_and_one_block_per_site() -> None:
    rules = parse_acl(acl_text(["b-site", "a-site", "a-site"]))
    assert list(rules) == [CONTROLLER_USERNAME, "gw-a-site", "gw-b-site"]
    assert "pattern" not in acl_text(["a-site"])


@pytest.mark.parametrize("channel", list(Channel), ids=lambda c: c.value)
def test_gateway_may_write_only_its_sites_uplink_and_read_only_its_setpoints(
    channel: Channel,
) -> None:
    rules = gateway_rules("a-site")
    for site in ("a-site", "b-site"):
        topic = str(Topic(site, None if channel is Channel.STATUS else "bess", channel))
        own = site == "a-site"
        uplink = channel is not Channel.SETPOINT
        assert allowed(rules, "write", topic) == (own and uplink), topic
        assert allowed(rules, "read", topic) == (own and not uplink), topic


def test_only_the_controller_may_write_setpoints_and_it_reads_every_sites_uplink() -> None:
    rules = parse_acl(acl_text(["a-site", "b-site"]))
    setpoint = str(Topic("a-site", "bess", Channel.SETPOINT))
    writers = [user for user, granted in rules.items() if allowed(granted, "write", setpoint)]
    assert writers == [CONTROLLER_USERNAME]
    for site in ("a-site", "b-site"):
        for channel in (Channel.TELEMETRY, Channel.ACK, Channel.STATUS):
            topic = str(Topic(site, None if channel is Channel.STATUS else "x", channel))
            assert allowed(controller_rules(), "read", topic)
            assert not allowed(controller_rules(), "write", topic)


def test_gateway_username_refuses_a_site_id_that_is_not_a_slug() -> None:
    assert gateway_username("a-site") == "gw-a-site"
    with pytest.raises(TopicError):
        gateway_username("a/#")


SLUGS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(own=SLUGS, other=SLUGS, resource=SLUGS, channel=st.sampled_from(list(Channel)))
def test_no_gateway_is_granted_anything_on_another_sites_topics(
    own: str, other: str, resource: str, channel: Channel
) -> None:
    """Whatever the slugs (one a prefix of the other, ``-`` and ``_`` in them)."""
    assume(own != other)
    topic = str(Topic(other, None if channel is Channel.STATUS else resource, channel))
    rules = gateway_rules(own)
    assert not allowed(rules, "write", topic)
    assert not allowed(rules, "read", topic)
