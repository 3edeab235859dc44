"""Command line: ``vpp capability``, ``vpp dispatch``, ``vpp baseline``, ``vpp history``."""

from vpp.cli import baseline_cmd, capability_cmd, dispatch_cmd  # noqa: F401  (registers commands)
from vpp.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
