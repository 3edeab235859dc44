"""The one exception tree of vpp; boundaries (CLI, API) translate it for people."""

from __future__ import annotations


class VppError(Exception):
    """Base of every error vpp raises on purpose."""


class ConfigError(VppError):
    """A configuration or input file is wrong; names the file, the field path and the reason."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [f"{source}: {len(problems)} problem(s)"]
        lines += [f"  {field}: {reason}" for field, reason in problems]
        super().__init__("\n".join(lines))


class UnknownReferenceError(VppError):
    """An identifier points at nothing (an unknown enterprise, feeder, resource or meter)."""

    def __init__(self, field: str, value: str) -> None:
        self.field = field
        self.value = value
        super().__init__(f"{field}: unknown {value!r}")


class GridAlignmentError(VppError):
    """A time does not fall on an interval boundary of the time grid."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class SolverError(VppError):
    """The solver returned no usable solution."""

    def __init__(self, status: str, termination: str) -> None:
        self.status = status
        self.termination = termination
        super().__init__(f"solver returned no usable solution: {status} ({termination})")
