"""``scripts/import_graph.py``: the layering holds, and the checker does catch an upward import."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).parents[2] / "scripts" / "import_graph.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_every_vpp_import_points_down_the_layers():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--json"], capture_output=True, text=True, timeout=120
    )
    report = json.loads(done.stdout)
    assert report["violations"] == [], report["violations"]
    assert done.returncode == 0, done.stderr
    assert report["modules"] > 100  # every module was read, the symlinked packages included
    layers = report["layers"]
    assert "domain" not in layers  # the domain imports nothing of ours
    assert set(layers["optimizer"]) == {"domain"}
    assert set(layers["device_adapters"]) == {"domain"}
    assert not {"hil_sim", "synthetic", "api", "cli", "store"} & set(layers["controller"])


def test_the_checker_refuses_upward_core_to_outside_and_implementation_imports():
    graph = _script()
    refused = [
        ("vpp.domain.event", "vpp.optimizer"),
        ("vpp.optimizer.dispatch", "vpp.device_adapters.base"),
        ("vpp.optimizer.dispatch", "vpp.controller.controller"),
        ("vpp.controller.controller", "vpp.api.service"),
        ("vpp.controller.controller", "vpp.device_adapters.contract"),
        ("vpp.planning", "vpp.synthetic"),
        ("vpp.device_adapters.router", "vpp.hil_sim.gateway"),
        ("vpp.hil_sim.runner", "vpp.api.service"),
    ]
    for importer, imported in refused:
        assert graph.violation(graph.Edge(importer, imported, 1)), (importer, imported)
    allowed = [
        ("vpp.controller.controller", "vpp.device_adapters.base"),
        ("vpp.cli.simulate_cmd", "vpp.hil_sim.runner"),
        ("vpp.hil_sim.runner", "vpp.controller"),
        ("vpp.api.app", "vpp.store"),
    ]
    for importer, imported in allowed:
        assert graph.violation(graph.Edge(importer, imported, 1)) is None, (importer, imported)


def test_imports_under_type_checking_do_not_count_and_function_level_ones_do(tmp_path: Path):
    graph = _script()
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from vpp.hil_sim import runner\n"
        "def f():\n    from vpp.synthetic import meter_history\n"
        "from . import sibling\n"
    )
    edges = graph.imports("vpp.controller.mod", source, is_package=False)
    assert {e.imported for e in edges} == {"vpp.synthetic", "vpp.controller"}
