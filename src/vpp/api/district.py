"""The district the service runs: a frame from a file (peak, feeders, zone, meter history)
and the enterprises registered in the store."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pydantic import Field

from vpp.config import read_yaml, validate
from vpp.domain import District, Enterprise


class DistrictFrame(District):
    """A district file whose enterprises may be empty: they register through the API.

    Enterprises listed in the file are registered on the first start (and kept as stored
    afterwards: the API, not the file, owns them from then on).
    """

    enterprises: tuple[Enterprise, ...] = Field(default=())

    def with_enterprises(self, enterprises: Iterable[Enterprise]) -> District:
        """The district with these enterprises; raises ValidationError naming the field."""
        data = dict(self)
        data["enterprises"] = tuple(enterprises)
        return District.model_validate(data)


def load_frame(path: Path) -> DistrictFrame:
    frame = validate(DistrictFrame, read_yaml(path), str(path))
    history = frame.meter_history
    if history is not None and history.source == "csv" and not history.path.is_absolute():
        frame = frame.model_copy(
            update={
                "meter_history": history.model_copy(update={"path": path.parent / history.path})
            }
        )
    return frame
