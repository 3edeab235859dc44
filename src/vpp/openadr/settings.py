"""How the VEN talks to its VTN and decides: ``vpp serve --openadr-*``."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from vpp.domain import FrozenModel
from vpp.openadr.mapping import DEFAULT_SIMPLE_LEVELS_PCT


class VenSettings(FrozenModel):
    vtn_url: str = Field(
        description="the VTN's base URL, e.g. http://host:8080/OpenADR2/Simple/2.0b"
    )
    ven_name: str = Field(min_length=1, max_length=200)
    poll_s: float = Field(default=5.0, gt=0, description="how often the VTN is polled [s, wall]")
    backoff_max_s: float = Field(
        default=60.0, gt=0, description="longest wait between tries while the VTN is down [s]"
    )
    request_timeout_s: float = Field(default=10.0, gt=0, description="one HTTP exchange [s]")
    cert_file: Path | None = Field(default=None, description="VEN certificate (PEM), mutual TLS")
    key_file: Path | None = Field(default=None, description="its private key (PEM)")
    ca_file: Path | None = Field(default=None, description="CA the VTN's certificate is checked on")
    simple_levels_pct: dict[int, float] = Field(
        default_factory=lambda: dict(DEFAULT_SIMPLE_LEVELS_PCT),
        description="SIMPLE signal level -> reduction [% of district peak]",
    )
    min_fraction: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="optIn when capability covers this fraction of the target [0..1]",
    )

    @model_validator(mode="after")
    def _tls_complete(self) -> VenSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("give the VEN certificate and its key together")
        if self.vtn_url.startswith("https://") is False and self.cert_file is not None:
            raise ValueError("a client certificate needs an https:// VTN URL")
        return self
