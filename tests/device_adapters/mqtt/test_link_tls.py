"""MqttLink over TLS (``mqtts://``) and with logins, against a real Mosquitto.

The certificates are made by the test (openssl CLI): a CA, the broker's certificate for
127.0.0.1, a client certificate, and an unrelated CA a misconfigured client might trust.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mosquitto_broker import BrokerTls, MosquittoBroker, wait_until
from provisioned_broker import acl_broker
from tls_certs import CertificateFiles, find_openssl, make_certificates
from vpp.device_adapters.mqtt import (
    Channel,
    Login,
    MqttLink,
    MqttUrlError,
    TlsError,
    TlsFiles,
    Topic,
    parse_broker_url,
)

TELEMETRY = str(Topic("a-site", "bess", Channel.TELEMETRY))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    if find_openssl() is None:
        pytest.skip("needs the openssl CLI to make test certificates")
    return make_certificates(tmp_path_factory.mktemp("certs"))


def tls_broker(workdir: Path, certs: CertificateFiles, *, require_certificate: bool = False):
    tls = BrokerTls(certs.ca_file, certs.broker_cert, certs.broker_key, require_certificate)
    return acl_broker(workdir, ["a-site"], tls=tls)


@pytest.fixture
def broker(tmp_path: Path, certs: CertificateFiles) -> Iterator[tuple[MosquittoBroker, dict]]:
    started, accounts = tls_broker(tmp_path, certs)
    try:
        yield started, accounts
    finally:
        started.stop()


def login(accounts: dict, client_id: str) -> Login:
    return Login(accounts[client_id].username, accounts[client_id].password)


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "username"),
    [
        ("mqtts://broker.example", "broker.example", 8883, True, None),
        ("mqtts://vpp-controller@broker:8884", "broker", 8884, True, "vpp-controller"),
        ("mqtt://gw-a@127.0.0.1", "127.0.0.1", 1883, False, "gw-a"),
    ],
    ids=["tls-default-port", "tls-user-port", "plain-user"],
)
def test_parse_broker_url_reads_scheme_user_host_and_port(url, host, port, tls, username):
    parsed = parse_broker_url(url)
    assert (parsed.host, parsed.port, parsed.tls, parsed.username) == (host, port, tls, username)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mqtts://user:secret@host", "no password in the URL"),
        ("mqtts://@host", "empty username"),
        ("ssl://host:8883", "expected mqtt://host:port or mqtts://host:port"),
    ],
    ids=["password", "empty-user", "scheme"],
)
def test_parse_broker_url_refuses_passwords_and_other_schemes(url: str, reason: str) -> None:
    with pytest.raises(MqttUrlError, match=reason):
        parse_broker_url(url)


def test_mqtt_link_refuses_tls_files_for_a_plain_url(certs: CertificateFiles) -> None:
    with pytest.raises(MqttUrlError, match="use mqtts://"):
        MqttLink("mqtt://127.0.0.1:1883", "c", tls=TlsFiles(certs.ca_file))


def test_mqtt_link_logs_in_as_its_login_else_as_the_urls_user() -> None:
    """One factory's URL serves every client; each client's own login wins."""
    assert MqttLink("mqtt://a@127.0.0.1:1883", "c", login=Login("b", "pw")).username == "b"
    assert MqttLink("mqtt://a@127.0.0.1:1883", "c").username == "a"


def test_tls_files_name_a_missing_ca_file(tmp_path: Path) -> None:
    with pytest.raises(TlsError, match="CA file"):
        TlsFiles(tmp_path / "missing.crt").context()


async def connects(url: str, client_id: str, *, login: Login | None, tls: TlsFiles) -> bool:
    """Whether a link's first attempt connects (start returns once it has or has failed)."""
    link = MqttLink(url, client_id, login=login, tls=tls, backoff_initial_s=5.0)
    try:
        await link.start()
        return link.connected and link.stats.errors["connection"] == 0
    finally:
        await link.close()


@pytest.mark.broker
async def test_mqtts_links_with_the_ca_and_logins_exchange_messages(
    broker, certs: CertificateFiles
) -> None:
    """The gateway's telemetry reaches the controller over TLS, each logged in as itself."""
    started, accounts = broker
    ca = TlsFiles(ca_file=certs.ca_file)
    controller = MqttLink(
        started.tls_url, "vpp-controller", login=login(accounts, "vpp-controller"), tls=ca
    )
    gateway = MqttLink(started.tls_url, "gw-a-site", login=login(accounts, "gw-a-site"), tls=ca)
    received: list[bytes] = []
    controller.on_message(lambda topic, payload: received.append(payload))
    try:
        await controller.start(("vpp/v1/+/+/telemetry",))
        await gateway.start()
        assert controller.connected, started.log_text()
        assert gateway.connected, started.log_text()
        assert await gateway.publish(TELEMETRY, b"over tls")
        await wait_until(lambda: received == [b"over tls"], "telemetry over TLS")
    finally:
        await gateway.close()
        await controller.close()


@pytest.mark.broker
async def test_mqtts_link_trusting_another_ca_does_not_connect(
    broker, certs: CertificateFiles
) -> None:
    """A broker certificate the client's CA did not sign is refused (no silent downgrade)."""
    started, accounts = broker
    wrong = TlsFiles(ca_file=certs.other_ca_file)
    right = TlsFiles(ca_file=certs.ca_file)
    who = login(accounts, "vpp-controller")
    assert not await connects(started.tls_url, "vpp-controller", login=who, tls=wrong)
    assert await connects(started.tls_url, "vpp-controller", login=who, tls=right)


@pytest.mark.broker
async def test_mqtts_link_with_a_wrong_password_does_not_connect(
    broker, certs: CertificateFiles
) -> None:
    started, _ = broker
    tls = TlsFiles(ca_file=certs.ca_file)
    wrong = Login("vpp-controller", "guessed")
    assert not await connects(started.tls_url, "vpp-controller", login=wrong, tls=tls)
    assert not await connects(started.tls_url, "vpp-controller", login=None, tls=tls)


@pytest.mark.broker
async def test_broker_requiring_client_certificates_admits_only_clients_with_one(
    tmp_path: Path, certs: CertificateFiles
) -> None:
    started, accounts = tls_broker(tmp_path, certs, require_certificate=True)
    try:
        who = login(accounts, "vpp-controller")
        bare = TlsFiles(ca_file=certs.ca_file)
        with_cert = TlsFiles(certs.ca_file, certs.client_cert, certs.client_key)
        assert not await connects(started.tls_url, "vpp-controller", login=who, tls=bare)
        assert await connects(started.tls_url, "vpp-controller", login=who, tls=with_cert)
    finally:
        started.stop()
