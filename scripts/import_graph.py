"""Which vpp layer imports which: prints the layer graph, exits 1 when an import points up.

Every module of ``vpp`` is found with :mod:`pkgutil` and read with :mod:`ast`: its imports at
module level and inside functions count (lazy imports are still dependencies), those under
``if TYPE_CHECKING:`` do not (annotations only). The rule (docs: README, "Layout")::

    domain <- {optimizer, baseline, settlement, device_adapters} <- controller
           <- {store, api, cli, openadr, report}

and the simulator (``hil_sim``) and the demo-data generator (``synthetic``) are never imported
by the core (domain, optimizer, baseline, settlement, device_adapters, controller).

    python scripts/import_graph.py           # the graph, then any violation
    python scripts/import_graph.py --json    # the same as one JSON object
"""

from __future__ import annotations

import argparse
import ast
import json
import pkgutil
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

import vpp  # noqa: E402  (after the path: the sources beside this script, not an install)

CORE = ("domain", "optimizer", "baseline", "settlement", "device_adapters", "controller")
TOP = ("store", "api", "cli", "openadr", "report", "files", "workers")
OUTSIDE = ("hil_sim", "synthetic")

#: The layers each layer may import (besides its own).
MAY_IMPORT: dict[str, frozenset[str]] = {
    "domain": frozenset(),
    **{name: frozenset({"domain"}) for name in ("optimizer", "baseline", "settlement")},
    "device_adapters": frozenset({"domain"}),
    "controller": frozenset({"domain", "optimizer", "baseline", "settlement", "device_adapters"}),
    **{name: frozenset(CORE + TOP + OUTSIDE) for name in TOP},
    "hil_sim": frozenset((*CORE, "files", "synthetic")),
    "synthetic": frozenset({"domain", "baseline"}),
}

#: The controller reaches devices through the adapter interface only.
CONTROLLER_SEES = frozenset({"vpp.device_adapters.base"})

#: Modules whose layer is not their first name part.
LAYER_OF = {
    "vpp.planning": "controller",  # from a district and an event to a dispatch problem
    "vpp.config": "files",  # district files (YAML) in
    "vpp.rotation_ledger": "files",  # the rotation ledger as a file
    "vpp.__main__": "cli",  # python -m vpp
    "vpp.telemetry_worker": "workers",  # a process of its own: adapter + gate + monitor
    "vpp": "domain",  # the package itself: a version string
}


def layer(module: str) -> str:
    """The layer a ``vpp.*`` module belongs to."""
    if module == "vpp":
        return LAYER_OF[module]
    parts = module.split(".")
    for n in range(len(parts), 1, -1):
        name = ".".join(parts[:n])
        if name in LAYER_OF:
            return LAYER_OF[name]
    return parts[1]


@dataclass(frozen=True)
class Edge:
    importer: str
    imported: str
    line: int

    @property
    def layers(self) -> tuple[str, str]:
        return layer(self.importer), layer(self.imported)


def modules() -> dict[str, Path]:
    """Every vpp module and its source file (the package folders' symlinks followed)."""
    found = {"vpp": Path(vpp.__file__)}
    for info in pkgutil.walk_packages(vpp.__path__, "vpp."):
        spec = info.module_finder.find_spec(info.name, None)  # type: ignore[call-arg]
        if spec is not None and spec.origin is not None:
            found[info.name] = Path(spec.origin)
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(module: str, path: Path, is_package: bool) -> list[Edge]:
    """The vpp modules ``module`` imports at run time (any depth, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = module if is_package else module.rpartition(".")[0]
    edges: list[Edge] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            edges.extend(Edge(module, a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from vpp import synthetic`` imports the module vpp.synthetic
                candidate = f"{base}.{alias.name}"
                edges.append(Edge(module, candidate if candidate in ALL else base, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    seen: set[str] = set()
    out = []
    for e in edges:
        if (e.imported == "vpp" or e.imported.startswith("vpp.")) and e.imported not in seen:
            seen.add(e.imported)
            out.append(e)
    return out


def violation(edge: Edge) -> str | None:
    """Why an import breaks the layering, or None."""
    src, dst = edge.layers
    if src not in MAY_IMPORT or dst not in MAY_IMPORT:
        return f"layer {src if src not in MAY_IMPORT else dst!r} is not in the rule"
    if src == dst:
        return None
    if dst in OUTSIDE and src in CORE:
        return f"the core ({src}) imports {dst}"
    if dst not in MAY_IMPORT[src]:
        return f"{src} may not import {dst}"
    if src == "controller" and dst == "device_adapters" and edge.imported not in CONTROLLER_SEES:
        return "the controller imports an adapter implementation, not the interface"
    return None


ALL: dict[str, Path] = {}
_ORDER = [*CORE, *TOP, *OUTSIDE]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args(argv)
    ALL.update(modules())
    edges = [
        e for name, path in ALL.items() for e in imports(name, path, path.name == "__init__.py")
    ]
    graph: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for e in edges:
        src, dst = e.layers
        if src != dst:
            graph[src][dst] += 1
    bad = [(e, why) for e in edges for why in [violation(e)] if why]
    if args.json:
        out = {
            "modules": len(ALL),
            "layers": {src: dict(sorted(dst.items())) for src, dst in sorted(graph.items())},
            "violations": [
                {"importer": e.importer, "imported": e.imported, "line": e.line, "why": why}
                for e, why in bad
            ],
        }
        print(json.dumps(out, indent=2))
    else:
        print(f"{len(ALL)} modules; layer -> layers it imports (imports):")
        for src in sorted(graph, key=_ORDER.index):
            targets = ", ".join(f"{d} ({n})" for d, n in sorted(graph[src].items()))
            print(f"  {src:16} -> {targets}")
        for e, why in bad:
            print(f"violation: {e.importer}:{e.line} imports {e.imported}: {why}")
        print("layering holds" if not bad else f"{len(bad)} violation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
