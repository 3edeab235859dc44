"""Engineers run scenarios in the background, poll them and fetch their reports."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, status
from fastapi.responses import FileResponse

from vpp.api.deps import Engineer, Limit, Offset, ServiceDep
from vpp.api.errors import NotFoundError
from vpp.api.service import Service
from vpp.api.views import Page, SimulationRequest, SimulationView, page_of
from vpp.store.tables import SimulationRow

router = APIRouter(prefix="/v1/simulations", tags=["simulations"])

SimulationId = Annotated[str, Path(pattern=r"^[0-9a-f]{12}$")]
FileName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]


def _view(service: Service, row: SimulationRow) -> SimulationView:
    progress = service.simulations.progress.get(row.simulation_id, row.progress)
    return SimulationView(
        simulation_id=row.simulation_id,
        scenario=row.scenario,
        status=row.status,
        progress=progress,
        created_at=row.created_at,
        finished_at=row.finished_at,
        error=row.error,
        summary=row.summary,
        files=service.simulations.files(row.simulation_id) if row.status == "succeeded" else [],
    )


async def _row(service: Service, simulation_id: str) -> SimulationRow:
    row = await service.store.simulations.get(simulation_id)
    if row is None:
        raise NotFoundError(f"simulation {simulation_id!r}: not found")
    return row


@router.post("", status_code=status.HTTP_202_ACCEPTED, response_model=SimulationView)
async def start_simulation(
    request: Annotated[SimulationRequest, Body()], service: ServiceDep, _: Engineer
) -> SimulationView:
    """Start a scenario's simulated day in the background; poll the returned id."""
    simulation_id = await service.simulations.start(request.scenario, request.scenario_yaml)
    return _view(service, await _row(service, simulation_id))


@router.get("", response_model=Page[SimulationView])
async def list_simulations(
    service: ServiceDep, _: Engineer, limit: Limit = 50, offset: Offset = 0
) -> Page[SimulationView]:
    rows, total = await service.store.simulations.page(offset, limit)
    return page_of([_view(service, r) for r in rows], total, offset, limit)


@router.get("/{simulation_id}", response_model=SimulationView)
async def get_simulation(
    simulation_id: SimulationId, service: ServiceDep, _: Engineer
) -> SimulationView:
    """Status and progress (share of the simulated day done)."""
    return _view(service, await _row(service, simulation_id))


@router.get("/{simulation_id}/report")
async def get_report(
    simulation_id: SimulationId, service: ServiceDep, _: Engineer
) -> dict[str, Any]:
    """The run's report.json: events, intervals, settlement, faults, messages."""
    await _row(service, simulation_id)
    path = service.simulations.out_dir(simulation_id) / "report.json"
    if not path.is_file():
        raise NotFoundError(f"simulation {simulation_id!r}: no report (yet)")
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


@router.get(
    "/{simulation_id}/files/{name}",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "text/csv": {}, "application/json": {}}}},
)
async def get_file(
    simulation_id: SimulationId, name: FileName, service: ServiceDep, _: Engineer
) -> FileResponse:
    """One file of the report: plots (PNG) and tables (CSV)."""
    await _row(service, simulation_id)
    if name not in service.simulations.files(simulation_id):
        raise NotFoundError(f"simulation {simulation_id!r}: no file {name!r}")
    return FileResponse(service.simulations.out_dir(simulation_id) / name)
