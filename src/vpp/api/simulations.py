"""Simulations engineers start through the API: a scenario runs in a worker thread (its own
event loop, so the service stays responsive), then its report lands in the data folder."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

import yaml

from vpp.api.errors import InvalidInputError, NotFoundError
from vpp.config import validate
from vpp.store import Store

if TYPE_CHECKING:
    from vpp.hil_sim.runner import SimulationResult
    from vpp.hil_sim.scenario import Scenario

logger = logging.getLogger(__name__)


class SimulationManager:
    def __init__(self, store: Store, data_dir: Path, scenarios_dir: Path) -> None:
        self.store = store
        self.data_dir = data_dir
        self.scenarios_dir = scenarios_dir
        self.progress: dict[str, float] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def out_dir(self, simulation_id: str) -> Path:
        return self.data_dir / "simulations" / simulation_id

    def files(self, simulation_id: str) -> list[str]:
        folder = self.out_dir(simulation_id)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_file())

    def load(self, name: str | None, text: str | None) -> tuple[str, Scenario]:
        """A scenario by name from the scenarios folder, or from YAML text whose district
        path is relative to that folder."""
        from vpp.hil_sim.scenario import Scenario, load_scenario

        if name is not None:
            path = self.scenarios_dir / f"{name}.yaml"
            if not path.is_file():
                raise NotFoundError(f"scenario {name!r}: no {path}")
            return name, load_scenario(path)
        assert text is not None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(
                "scenario_yaml is not YAML", [("scenario_yaml", str(exc))]
            ) from None
        scenario = validate(Scenario, data, "scenario_yaml")
        district = PurePath(scenario.district)
        if district.is_absolute() or ".." in district.parts:
            raise InvalidInputError(
                "district path outside the scenarios folder",
                [("scenario_yaml.district", "must be a path inside the scenarios folder")],
            )
        resolved = scenario.model_copy(update={"district": self.scenarios_dir / district})
        return scenario.name, resolved

    async def start(self, name: str | None, text: str | None) -> str:
        label, scenario = self.load(name, text)
        scenario.load_district()  # a broken district fails now, as 422, not in the run
        simulation_id = secrets.token_hex(6)
        await self.store.simulations.create(simulation_id, label, datetime.now(UTC))
        self.progress[simulation_id] = 0.0
        self._tasks[simulation_id] = asyncio.create_task(
            self._run(simulation_id, scenario), name=f"vpp.api.simulation.{simulation_id}"
        )
        return simulation_id

    async def _run(self, simulation_id: str, scenario: Scenario) -> None:
        def progress(now: datetime, end: datetime) -> None:
            day_s = 86400.0
            self.progress[simulation_id] = max(0.0, 1.0 - (end - now).total_seconds() / day_s)

        try:
            result = await asyncio.to_thread(_simulate, scenario, progress)
            await asyncio.to_thread(_write, result, self.out_dir(simulation_id))
            await self.store.simulations.finish(
                simulation_id, datetime.now(UTC), status="succeeded", summary=_summary(result)
            )
        except Exception as exc:
            logger.exception("simulation %s failed", simulation_id)
            await self.store.simulations.finish(
                simulation_id, datetime.now(UTC), status="failed", error=str(exc)
            )
        finally:
            self.progress.pop(simulation_id, None)
            self._tasks.pop(simulation_id, None)

    async def stop(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def _simulate(scenario: Scenario, progress: Any) -> SimulationResult:
    from vpp.hil_sim.runner import simulate

    return asyncio.run(simulate(scenario, progress=progress))


def _write(result: SimulationResult, out_dir: Path) -> None:
    from vpp.hil_sim.report import write_report

    write_report(result, out_dir)


def _summary(result: SimulationResult) -> dict[str, Any]:
    return {
        "wall_s": round(result.wall_s, 2),
        "events": [
            {
                "event_id": o.event_id,
                "state": o.state,
                "met": o.met,
                "target_kw": o.target_kw,
                "performance_ratio": round(o.performance_ratio, 4),
                "payment_cny": round(o.settlement.payment_cny, 2),
            }
            for o in result.outcomes
        ],
    }
