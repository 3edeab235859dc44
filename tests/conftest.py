"""Fixtures shared by every test directory: a private Mosquitto for `broker` tests."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from mosquitto_broker import MosquittoBroker, find_mosquitto
from vpp.planning import register_history_reader
from vpp.synthetic import meter_history

# The test suite is one more place that runs demo districts (as the CLI and the service do).
register_history_reader("synthetic", meter_history)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A started broker on a free port of 127.0.0.1, stopped after the test."""
    if find_mosquitto() is None:
        pytest.fail("mosquitto is not installed: run `make install` to install the broker")
    broker = MosquittoBroker(tmp_path).start()
    try:
        yield broker
    finally:
        broker.stop()
