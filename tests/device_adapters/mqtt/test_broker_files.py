"""Provisioned folders: what is written, with which modes, and what re-provisioning keeps."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from vpp.device_adapters.mqtt.broker_files import (
    CredentialsError,
    plan_users,
    read_client_credentials,
    read_password_file,
    remove_stale_credentials,
    write_broker_files,
    write_credentials,
)
from vpp.device_adapters.mqtt.passwords import verify_password


def provision(out: Path, site_ids: list[str], *, rotate: bool = False) -> list[str]:
    """What the CLI does; returns the usernames issued."""
    users, issued = plan_users(site_ids, read_password_file(out / "passwd"), rotate=rotate)
    write_broker_files(out, users)
    for credentials in issued:
        write_credentials(out, credentials)
    remove_stale_credentials(out, site_ids)
    return [c.username for c in issued]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_provision_writes_hashes_only_and_secrets_private(tmp_path: Path) -> None:
    provision(tmp_path, ["a-site", "b-site"])
    found = read_client_credentials(tmp_path)
    assert sorted(found) == ["gw-a-site", "gw-b-site", "vpp-controller"]
    hashes = read_password_file(tmp_path / "passwd")
    for username, credentials in found.items():
        assert verify_password(credentials.password, hashes[username])
        assert credentials.password not in (tmp_path / "passwd").read_text()
    for secret in ("passwd", "controller.password", "gateways/a-site.json"):
        assert mode(tmp_path / secret) == 0o600, secret
    gateway = json.loads((tmp_path / "gateways" / "a-site.json").read_text())
    assert gateway["username"] == gateway["client_id"] == "gw-a-site"
    assert gateway["site_id"] == "a-site"


def test_config_refuses_anonymous_and_names_the_files(tmp_path: Path) -> None:
    provision(tmp_path, ["a-site"])
    config = (tmp_path / "mosquitto.conf").read_text().splitlines()
    assert "allow_anonymous false" in config
    assert f"password_file {(tmp_path / 'passwd').resolve()}" in config
    assert f"acl_file {(tmp_path / 'acl').resolve()}" in config
    # listener options must follow a listener, or Mosquitto opens a default one on 1883
    first_listener = next(i for i, line in enumerate(config) if line.startswith("listener"))
    assert config.index("use_username_as_clientid true") > first_listener


def test_reprovision_keeps_accounts_adds_new_sites_drops_gone_ones(tmp_path: Path) -> None:
    provision(tmp_path, ["a-site", "b-site"])
    before = read_client_credentials(tmp_path)
    issued = provision(tmp_path, ["a-site", "c-site"])
    assert issued == ["gw-c-site"]
    after = read_client_credentials(tmp_path)
    assert sorted(after) == ["gw-a-site", "gw-c-site", "vpp-controller"]
    assert after["gw-a-site"] == before["gw-a-site"]
    assert after["vpp-controller"] == before["vpp-controller"]
    assert "gw-b-site" not in read_password_file(tmp_path / "passwd")
    assert "b-site" not in (tmp_path / "acl").read_text()


def test_reprovision_with_rotate_issues_new_passwords_to_everyone(tmp_path: Path) -> None:
    provision(tmp_path, ["a-site"])
    before = read_client_credentials(tmp_path)
    assert sorted(provision(tmp_path, ["a-site"], rotate=True)) == ["gw-a-site", "vpp-controller"]
    after = read_client_credentials(tmp_path)
    hashes = read_password_file(tmp_path / "passwd")
    for username in before:
        assert after[username].password != before[username].password
        assert not verify_password(before[username].password, hashes[username])


def test_plan_users_with_issue_to_issues_only_to_those_sites() -> None:
    users, issued = plan_users(["a-site", "b-site"], {}, issue_to={"b-site"})
    assert [u.username for u in users] == ["gw-b-site"]
    assert [c.username for c in issued] == ["gw-b-site"]


@pytest.mark.parametrize(
    ("name", "content"),
    [("passwd", "user:plaintext\n"), ("passwd", "no colon\n")],
    ids=["not-a-hash", "no-separator"],
)
def test_read_password_file_refuses_lines_that_are_not_7_hashes(
    tmp_path: Path, name: str, content: str
) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(CredentialsError, match="line 1"):
        read_password_file(tmp_path / name)


def test_read_client_credentials_names_a_folder_that_was_not_provisioned(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError, match=r"controller\.password"):
        read_client_credentials(tmp_path)
    (tmp_path / "controller.password").write_text("pw\n")
    (tmp_path / "gateways").mkdir()
    (tmp_path / "gateways" / "x.json").write_text("{not json")
    with pytest.raises(CredentialsError, match=r"x\.json"):
        read_client_credentials(tmp_path)
