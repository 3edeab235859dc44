"""Settlement (M&V): what each enterprise earns or owes for an event, as the operator pays it.

Kept apart from the controller so a statement depends only on what was asked, the baseline
and the meter, never on how the dispatch was planned. Rules differ by province, so they are
data (:data:`RULE_PRESETS`); the rule applies per enterprise, the market participant.

Imports only :mod:`vpp.domain` of vpp.
"""

from vpp.settlement.compute import (
    ASKED_TOL_KW,
    EnterpriseSettlement,
    EventSettlement,
    ResourceDelivery,
    SettlementError,
    asked_price_cny_per_kwh,
    counted_from,
    settle_event,
)
from vpp.settlement.ledger import rotation_entries
from vpp.settlement.rules import (
    DEFAULT_RULE,
    RULE_PRESETS,
    EffectiveResponseRule,
    UnknownRuleError,
    performance_ratio,
    resolve_rule,
)
from vpp.settlement.totals import EnterpriseTotals, enterprise_totals, stored_line

__all__ = [
    "ASKED_TOL_KW",
    "DEFAULT_RULE",
    "RULE_PRESETS",
    "EffectiveResponseRule",
    "EnterpriseSettlement",
    "EnterpriseTotals",
    "EventSettlement",
    "ResourceDelivery",
    "SettlementError",
    "UnknownRuleError",
    "asked_price_cny_per_kwh",
    "counted_from",
    "enterprise_totals",
    "performance_ratio",
    "resolve_rule",
    "rotation_entries",
    "settle_event",
    "stored_line",
]
