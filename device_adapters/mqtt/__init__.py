"""The MQTT side of the device fabric: topics of the contract (the adapter comes next)."""

from vpp.device_adapters.mqtt.topics import Channel, Topic, TopicError

__all__ = ["Channel", "Topic", "TopicError"]
