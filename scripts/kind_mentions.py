"""Which files mention a resource kind by name outside that kind's own modules.

A kind is named by its tag in quotes (``"battery"``) or its model class (``Battery``).
Its own modules are its domain module (``src/vpp/domain/kinds/<kind>.py``), its optimiser
builder and its physics model; every other mention is knowledge of the kind spread over
the code base, which the kind spec (``vpp.domain.kinds``) is there to gather.

Usage: ``python scripts/kind_mentions.py [--json]`` from the repository root; prints, per
kind, the files that mention it, and the number of distinct files in all.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEARCHED = ("src/vpp", "optimizer", "hil_sim", "device_adapters")

#: Each kind's model class and its own modules (repository-relative).
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "curtailable_load": (
        "CurtailableLoad",
        (
            "src/vpp/domain/kinds/curtailable_load.py",
            "optimizer/resources/curtailable.py",
            "hil_sim/physics/curtailable.py",
        ),
    ),
    "battery": (
        "Battery",
        (
            "src/vpp/domain/kinds/battery.py",
            "optimizer/resources/battery.py",
            "hil_sim/physics/battery.py",
        ),
    ),
    "ev_charger_pool": (
        "EvChargerPool",
        (
            "src/vpp/domain/kinds/ev_charger_pool.py",
            "optimizer/resources/ev_charger.py",
            "hil_sim/physics/ev.py",
        ),
    ),
    "hvac_load": (
        "HvacLoad",
        (
            "src/vpp/domain/kinds/hvac_load.py",
            "optimizer/resources/hvac.py",
            "hil_sim/physics/hvac.py",
        ),
    ),
    "pv": (
        "Pv",
        ("src/vpp/domain/kinds/pv.py", "optimizer/resources/pv.py", "hil_sim/physics/pv.py"),
    ),
}

#: Modules that only re-export the kinds' names (imports, ``__all__``), no knowledge.
RE_EXPORTS = (
    "src/vpp/domain/__init__.py",
    "src/vpp/domain/kinds/__init__.py",
    "hil_sim/physics/__init__.py",
)


def python_files(root: Path) -> list[Path]:
    """The searched source files; symlinked folders (``src/vpp/optimizer``) counted once."""
    files: set[Path] = set()
    for top in SEARCHED:
        base = root / top
        if base.is_symlink():
            continue
        files.update(p for p in base.rglob("*.py") if not any(q.is_symlink() for q in p.parents))
    return sorted(files)


def mentions(root: Path = ROOT) -> dict[str, list[str]]:
    """Per kind, the files outside its own modules that name it (sorted paths)."""
    texts = {p.relative_to(root).as_posix(): p.read_text() for p in python_files(root)}
    out: dict[str, list[str]] = {}
    for kind, (model, own) in KINDS.items():
        pattern = re.compile(rf"""["']{kind}["']|\b{model}\b""")
        out[kind] = sorted(
            path
            for path, text in texts.items()
            if path not in own and path not in RE_EXPORTS and pattern.search(text)
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)
    found = mentions(args.root)
    files = sorted({path for paths in found.values() for path in paths})
    if args.json:
        print(json.dumps({"kinds": found, "files": len(files)}, indent=2))
        return 0
    for kind, paths in found.items():
        print(f"{kind}: {len(paths)} files")
        for path in paths:
            print(f"  {path}")
    print(f"files mentioning a kind outside its own modules: {len(files)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
