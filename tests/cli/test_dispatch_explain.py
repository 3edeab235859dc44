"""``vpp dispatch --explain``: the table of reasons and explanation.json, as a user sees them."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from vpp.cli import app
from vpp.cli.explain_view import print_explanation
from vpp.domain import DispatchExplanation, Reason

TINY = Path(__file__).parent.parent / "data" / "tiny_district.yaml"
runner = CliRunner()
WINDOW = ["--start", "2026-07-15T11:00", "--end", "2026-07-15T13:00"]


def run_explained(out: Path, target_kw: str) -> tuple[str, DispatchExplanation]:
    result = runner.invoke(
        app,
        ["dispatch", str(TINY), *WINDOW, "--target-kw", target_kw, "--explain", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    path = out / "explanation.json"
    assert f"wrote explanation_json: {path}" in result.output.replace("\n", "")
    return result.output, DispatchExplanation.model_validate_json(path.read_text())


def test_dispatch_explain_prints_the_reasons_and_writes_every_resource_to_json(tmp_path):
    """Each of the tiny district's five resources once, called ones matching the setpoints."""
    output, explanation = run_explained(tmp_path, "600")
    assert "marginal cost of the target" in output
    assert "Why: tiny-20260715-1100" in output
    keys = sorted(r.key for r in explanation.resources)
    assert keys == [
        "mall/chiller",
        "mall/dc-chargers",
        "steel-main/bess",
        "steel-main/rolling-mill",
        "steel-main/roof-pv",
    ]
    commanded = {
        (s["site_id"], s["resource_id"])
        for s in json.loads((tmp_path / "setpoints.json").read_text())
    }
    for r in explanation.resources:
        assert r.called == ((r.site_id, r.resource_id) in commanded) == r.reason.called
    assert explanation.marginal_cost_cny_per_kwh > 0
    assert explanation.shortfall is None


def test_dispatch_explain_on_an_impossible_target_prices_the_shortfall(tmp_path):
    """5 MW from a 1.5 MW portfolio: the extra kW costs the penalty and the limits are named."""
    output, explanation = run_explained(tmp_path, "5000")
    assert explanation.shortfall is not None
    assert explanation.shortfall.extra_kw_cost_cny_per_kwh >= 100.0
    assert explanation.shortfall.binding_constraints
    assert "cheapest extra kW" in output
    assert "binding:" in output


def test_dispatch_without_explain_writes_no_explanation(tmp_path):
    result = runner.invoke(
        app, ["dispatch", str(TINY), *WINDOW, "--target-kw", "600", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "explanation.json").exists()
    assert "marginal cost of the target" not in result.output


def test_print_explanation_in_a_narrow_terminal_never_cuts_a_number(tmp_path):
    """At 60 columns the table wraps its words; every price and response is printed whole."""
    _, explanation = run_explained(tmp_path, "600")
    console = Console(width=60, record=True, color_system=None)
    print_explanation(explanation, console)
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 60
    for r in explanation.resources:
        assert f"{r.marginal_cost_cny_per_kwh:,.3f}" in text
        assert f"{r.mean_response_kw:,.0f}" in text
        if r.effective_price_cny_per_kwh is not None:
            assert f"{r.effective_price_cny_per_kwh:,.3f}" in text
    assert any(r.reason is Reason.CANNOT_RESPOND for r in explanation.resources)


def test_print_explanation_names_the_binding_limits_when_no_asked_price_sets_the_margin(
    tmp_path,
):
    """Every resource within the margin called, and its last kW bounded by limits (the demo
    district at 5 %): the printout says what binds instead of leaving the price unexplained."""
    _, explanation = run_explained(tmp_path, "600")

    def printed(e: DispatchExplanation) -> str:
        console = Console(width=100, record=True, color_system=None)
        print_explanation(e, console)
        return console.export_text()

    limits = ("battery.soc_kwh lower bound (steel-main/bess)", "hvac_load.temperature_c x")
    no_setter = tuple(
        r.model_copy(update={"reason": Reason.CHEAPER_THAN_MARGINAL})
        if r.reason is Reason.SETS_MARGINAL_PRICE
        else r
        for r in explanation.resources
    )
    bound = explanation.model_copy(update={"resources": no_setter, "binding_constraints": limits})
    assert "no asked price sets it; the limits that bind" in printed(bound)
    assert "battery.soc_kwh lower bound" in " ".join(printed(bound).split())
    with_setter = explanation.model_copy(
        update={
            "resources": (
                explanation.resources[0].model_copy(update={"reason": Reason.SETS_MARGINAL_PRICE}),
                *explanation.resources[1:],
            ),
            "binding_constraints": limits,
        }
    )
    assert "no asked price sets it" not in printed(with_setter)
