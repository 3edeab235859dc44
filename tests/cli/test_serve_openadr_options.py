"""``vpp serve --openadr-*`` refuses incomplete or contradictory options with exit code 2,
naming the option, before serving."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from vpp.cli import app

runner = CliRunner()
VTN = "http://127.0.0.1:8080/OpenADR2/Simple/2.0b"
PLAIN = ["serve", "--openadr-vtn", VTN, "--openadr-ven-name", "b"]


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ven.pem"
    path.write_text("not used before the options are checked\n")
    return path


def test_ven_name_without_a_vtn_exits_2() -> None:
    result = runner.invoke(app, ["serve", "--openadr-ven-name", "beichen"])
    assert result.exit_code == 2
    assert "need --openadr-vtn" in " ".join(result.output.split())


def test_vtn_without_a_ven_name_exits_2() -> None:
    result = runner.invoke(app, ["serve", "--openadr-vtn", VTN])
    assert result.exit_code == 2
    assert "--openadr-ven-name" in result.output


def test_vtn_url_that_is_not_http_exits_2() -> None:
    result = runner.invoke(
        app, ["serve", "--openadr-vtn", "ftp://vtn", "--openadr-ven-name", "beichen"]
    )
    assert result.exit_code == 2
    assert "http:// or https://" in result.output


def test_client_certificate_over_plain_http_exits_2(pem: Path) -> None:
    result = runner.invoke(
        app,
        [*PLAIN, "--openadr-cert", str(pem), "--openadr-key", str(pem)],
    )
    assert result.exit_code == 2
    assert "https://" in result.output


def test_certificate_without_its_key_exits_2(pem: Path) -> None:
    https = VTN.replace("http://", "https://")
    result = runner.invoke(
        app,
        ["serve", "--openadr-vtn", https, "--openadr-ven-name", "b", "--openadr-cert", str(pem)],
    )
    assert result.exit_code == 2
    assert "go together" in result.output


def test_unreadable_simple_level_table_exits_2() -> None:
    result = runner.invoke(
        app,
        [*PLAIN, "--openadr-simple-levels", "1:5"],
    )
    assert result.exit_code == 2
    assert "LEVEL=PCT" in result.output
