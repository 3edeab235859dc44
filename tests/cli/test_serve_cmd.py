"""``vpp serve`` refuses wrong options with a message and exit code 2, before serving.

Serving itself is exercised as a process in tests/api (test_recovery, the README walkthrough).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from vpp.cli import app

runner = CliRunner()


def test_unsupported_database_url_exits_2_naming_the_option(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--db", "mysql+aiomysql://x/y", "--port", "1"])
    assert result.exit_code == 2
    assert "--db" in result.output
    assert "driver must be one of" in result.output


def test_broken_district_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    district = tmp_path / "district.yaml"
    district.write_text(
        "district_id: x\nname: X\npeak_load_kw: -1\npeak_hours: '11:00-13:00'\nfeeders: []\n"
    )
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    result = runner.invoke(app, ["serve", "--district", str(district), "--db", db])
    assert result.exit_code == 2
    assert "peak_load_kw" in result.output


def test_time_scale_below_one_is_refused(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--time-scale", "0.5"])
    assert result.exit_code == 2


def test_mqtt_password_file_without_mqtt_exits_2(tmp_path: Path) -> None:
    password = tmp_path / "controller.password"
    password.write_text("pw\n")
    result = runner.invoke(app, ["serve", "--mqtt-password-file", str(password)])
    assert result.exit_code == 2
    assert "need --mqtt" in result.output


def test_mqtt_password_in_the_url_exits_2(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    result = runner.invoke(
        app, ["serve", "--db", db, "--mqtt", "mqtts://vpp-controller:secret@broker:8883"]
    )
    assert result.exit_code == 2
    assert "no password in the URL" in result.output


def test_mqtts_with_a_ca_file_that_is_not_a_certificate_exits_2(tmp_path: Path) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    ca = tmp_path / "ca.crt"
    ca.write_text("not a certificate\n")
    result = runner.invoke(
        app, ["serve", "--db", db, "--mqtt", "mqtts://broker:8883", "--mqtt-ca", str(ca)]
    )
    assert result.exit_code == 2
    assert "CA file" in result.output


def test_data_dir_that_cannot_be_created_exits_2_before_serving(tmp_path: Path) -> None:
    """Simulation reports are written there hours later; refuse the folder now."""
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    result = runner.invoke(app, ["serve", "--db", db, "--data-dir", "/dev/null/vpp-data"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --data-dir: cannot create the folder")


def test_district_file_with_a_site_on_an_unknown_protocol_exits_2_before_serving(
    tmp_path: Path,
) -> None:
    tiny = Path(__file__).parent.parent / "data" / "tiny_district.yaml"
    district = tmp_path / "district.yaml"
    district.write_text(
        tiny.read_text().replace(
            "      - site_id: mall\n", "      - site_id: mall\n        protocol: pigeon\n"
        )
    )
    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"
    result = runner.invoke(app, ["serve", "--district", str(district), "--db", db])
    assert result.exit_code == 2
    assert "mall/" in result.output
    assert "protocol 'pigeon' is not known" in result.output
    assert "Traceback" not in result.output


def test_telemetry_workers_without_mqtt_or_on_a_faster_clock_exit_2() -> None:
    result = runner.invoke(app, ["serve", "--telemetry-workers"])
    assert result.exit_code == 2
    assert "needs --mqtt" in result.output
    args = ["serve", "--telemetry-workers", "--mqtt", "mqtt://127.0.0.1:1", "--time-scale", "60"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "wall clock" in result.output


def test_clock_start_needs_an_offset_and_simulated_devices_on_a_sped_up_clock() -> None:
    naive = runner.invoke(app, ["serve", "--time-scale", "60", "--clock-start", "2026-07-15T10:45"])
    assert naive.exit_code == 2
    assert "--clock-start: give a UTC offset" in naive.output
    wall = runner.invoke(
        app, ["serve", "--simulated-devices", "--clock-start", "2026-07-15T10:45+08:00"]
    )
    assert wall.exit_code == 2
    assert "--clock-start needs --simulated-devices and a --time-scale above 1" in wall.output


def test_clock_start_before_the_kept_clock_is_refused_before_serving(tmp_path: Path) -> None:
    """A database whose clock already reads later: time never runs backwards."""
    import asyncio

    from vpp.api.clock import PacedClock
    from vpp.api.service import CLOCK_KEY
    from vpp.store import open_store

    db = f"sqlite+aiosqlite:///{tmp_path / 'vpp.db'}"

    async def keep_clock() -> None:
        async with open_store(db) as store:
            kept = PacedClock(datetime(2026, 7, 15, 4, 0, tzinfo=UTC), 60.0)
            await store.settings.put(CLOCK_KEY, kept.to_dict())

    asyncio.run(keep_clock())
    start = ["--clock-start", "2026-07-15T10:45+08:00"]
    serve = ["serve", "--db", db, "--simulated-devices", "--time-scale", "60", "--port", "1"]
    result = runner.invoke(app, [*serve, *start])
    assert result.exit_code == 2
    assert "already reads 2026-07-15T04:00:00+00:00" in result.output
