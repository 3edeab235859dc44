"""Traffic: what a simulation waits for before it moves its clock on."""

from vpp.device_adapters.link import Traffic

TOPIC = "vpp/v1/site-a/bess/ack"


def test_arrival_settles_the_publish_it_matches():
    traffic = Traffic()
    traffic.sent(TOPIC, b"one")
    traffic.sent(TOPIC, b"two")
    traffic.arrived(TOPIC, b"two")
    assert traffic.in_flight == 1
    traffic.arrived(TOPIC, b"one")
    assert (traffic.in_flight, traffic.published, traffic.received) == (0, 2, 2)


def test_retained_or_duplicate_arrivals_do_not_hide_a_message_in_flight():
    """A broker re-delivers retained statuses and QoS 1 duplicates nobody published now;
    counting them as arrivals would let the clock outrun a message still on its way."""
    traffic = Traffic()
    traffic.arrived("vpp/v1/site-a/status", b'{"state": "online"}')  # retained, from before
    traffic.sent(TOPIC, b"ack")
    traffic.arrived(TOPIC, b"ack")
    traffic.arrived(TOPIC, b"ack")  # QoS 1 duplicate
    traffic.sent(TOPIC, b"next")
    assert traffic.in_flight == 1
    assert traffic.unmatched == 2


def test_unsent_message_is_no_longer_in_flight():
    traffic = Traffic()
    traffic.sent(TOPIC, b"x")
    traffic.unsent(TOPIC, b"x")
    traffic.unsent(TOPIC, b"x")  # only what was counted can be taken back
    assert (traffic.in_flight, traffic.lost) == (0, 0)


def test_give_up_counts_what_is_in_flight_as_lost():
    traffic = Traffic()
    traffic.sent(TOPIC, b"to a dead gateway")
    assert traffic.give_up() == 1
    assert (traffic.in_flight, traffic.lost) == (0, 1)
    traffic.arrived(TOPIC, b"to a dead gateway")  # it turned up after all
    assert (traffic.in_flight, traffic.unmatched) == (0, 1)


SETPOINT_A = "vpp/v1/site-a/bess/setpoint"
SETPOINT_B = "vpp/v1/site-b/bess/setpoint"


def test_message_sent_with_no_receiver_connected_is_lost_not_waited_for():
    """Over a network with clean sessions, a setpoint to a gateway that is not connected
    never arrives: it is counted lost at once, and the clock does not wait for it."""
    traffic = Traffic(receiver=lambda topic: topic != SETPOINT_A)
    traffic.sent(SETPOINT_A, b"to nobody")
    traffic.sent(SETPOINT_B, b"to site b")
    assert (traffic.in_flight, traffic.lost, traffic.published) == (1, 1, 2)


def test_give_up_drops_only_what_goes_to_an_absent_receiver():
    """A receiver gone mid-flight loses its messages; those to receivers still there are
    still waited for, however long a loaded machine takes to deliver them."""
    traffic = Traffic()
    traffic.sent(SETPOINT_A, b"lost")
    traffic.sent(SETPOINT_A, b"lost")
    traffic.sent(SETPOINT_B, b"on its way")
    assert traffic.give_up(lambda topic: topic == SETPOINT_A) == 2
    assert (traffic.in_flight, traffic.lost) == (1, 2)
    traffic.arrived(SETPOINT_B, b"on its way")
    assert (traffic.in_flight, traffic.unmatched) == (0, 0)
