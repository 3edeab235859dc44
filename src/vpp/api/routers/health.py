"""Is the service well: its clock, its device fabric and its link to an OpenADR VTN."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from vpp.api.deps import PrincipalDep, ServiceDep

router = APIRouter(prefix="/v1", tags=["health"])


@router.get("/health")
async def get_health(service: ServiceDep, _: PrincipalDep) -> dict[str, Any]:
    """``status`` is ``ok``, or ``degraded`` while a configured VTN cannot be reached
    (``openadr.state``, its last error and when the VEN tries again)."""
    ven = None if service.ven is None else service.ven.health.as_dict()
    degraded = ven is not None and ven["state"] in ("unreachable", "refused")
    return {
        "status": "degraded" if degraded else "ok",
        "now": service.clock.now().isoformat(),
        "devices": None if service.fabric is None else service.fabric.name,
        "openadr": ven,
    }
