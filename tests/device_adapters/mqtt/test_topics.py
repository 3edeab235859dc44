"""Contract topics: built from parts, parsed back, wrong ones refused with the reason."""

import pytest

from vpp.device_adapters.mqtt import Channel, Topic, TopicError


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("vpp/v1/mall/chiller/telemetry", Topic("mall", "chiller", Channel.TELEMETRY)),
        ("vpp/v1/mall/chiller/setpoint", Topic("mall", "chiller", Channel.SETPOINT)),
        ("vpp/v1/mall/chiller/ack", Topic("mall", "chiller", Channel.ACK)),
        ("vpp/v1/mall/status", Topic("mall", None, Channel.STATUS)),
    ],
    ids=["telemetry", "setpoint", "ack", "status"],
)
def test_topic_parse_round_trips(text, topic):
    """Every channel of the contract parses to its parts and prints back unchanged."""
    assert Topic.parse(text) == topic
    assert str(topic) == text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("vpp/v2/mall/chiller/telemetry", "does not start with vpp/v1/"),
        ("vpp/v1/mall/chiller/power", "unknown channel 'power'"),
        ("vpp/v1/Mall/chiller/ack", "site_id 'Mall' is not a slug"),
        ("vpp/v1/mall/chiller/status", "status is per site"),
        ("vpp/v1/mall/telemetry", "status is per site"),
        ("vpp/v1/mall/a/b/telemetry", "expected vpp/v1/"),
        ("", "does not start with vpp/v1/"),
    ],
    ids=[
        "version",
        "channel",
        "slug",
        "status-per-resource",
        "telemetry-per-site",
        "depth",
        "empty",
    ],
)
def test_topic_parse_refuses_topics_outside_the_contract(text, reason):
    """A wrong topic raises TopicError naming the topic and the reason."""
    with pytest.raises(TopicError) as exc_info:
        Topic.parse(text)
    assert reason in exc_info.value.reason
    assert text in str(exc_info.value)


def test_topic_subscription_wildcards_match_their_channel_only():
    """The per-channel wildcard covers every site's topic of that channel and no other."""
    telemetry = Topic("mall", "chiller", Channel.TELEMETRY)
    status = Topic("mall", None, Channel.STATUS)
    assert telemetry.matches(Topic.subscription(Channel.TELEMETRY))
    assert not telemetry.matches(Topic.subscription(Channel.ACK))
    assert status.matches(Topic.subscription(Channel.STATUS))
    assert not status.matches(Topic.subscription(Channel.TELEMETRY))
    assert telemetry.matches("vpp/v1/#")
    assert not telemetry.matches("vpp/v1/mall")
