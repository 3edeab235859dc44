"""The dashboard's labels in Chinese (the default for a district in China) and English."""

from __future__ import annotations

DEFAULT_LANG = "zh-CN"
LANGS = ("zh-CN", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # key: (zh-CN, en)
    "title": ("虚拟电厂监控", "VPP dashboard"),
    "login": ("登录", "Log in"),
    "logout": ("退出", "Log out"),
    "token": ("访问令牌", "Access token"),
    "login_failed": ("令牌无效或已吊销", "unknown or revoked token"),
    "operator_view": ("调度视图", "Operator view"),
    "enterprise_view": ("企业视图", "Enterprise view"),
    "capability": ("今日可调能力", "Capability today"),
    "capability_window": ("高峰时段", "peak hours"),
    "deliverable": ("可持续响应", "sustainable response"),
    "target": ("目标", "target"),
    "pct_of_peak": ("占峰值", "of peak"),
    "pass": ("达标", "PASS"),
    "fail": ("未达标", "FAIL"),
    "computing": ("计算中…", "computing…"),
    "events": ("需求响应事件", "Demand-response events"),
    "upcoming": ("即将开始", "Upcoming"),
    "active": ("进行中", "Active"),
    "completed": ("已结束", "Completed"),
    "none": ("无", "none"),
    "event": ("事件", "Event"),
    "kind": ("类型", "kind"),
    "window": ("时段", "window"),
    "state": ("状态", "state"),
    "issue_event": ("发布事件", "Issue an event"),
    "event_id": ("事件编号(可选)", "event id (optional)"),
    "lead_min": ("提前量 [分钟]", "lead [min]"),
    "duration_min": ("持续 [分钟]", "duration [min]"),
    "target_kw": ("目标 [kW]", "target [kW]"),
    "notice": ("通知方式", "notice"),
    "issue": ("发布", "Issue"),
    "modify": ("修改目标", "Change target"),
    "cancel": ("取消事件", "Cancel event"),
    "reason": ("原因", "reason"),
    "chart": ("逐时段响应 [kW]", "Response per interval [kW]"),
    "planned": ("计划", "planned"),
    "baseline": ("基线", "baseline"),
    "delivered": ("实际响应", "delivered"),
    "participants": ("参与资源", "Participants"),
    "resource": ("资源", "resource"),
    "enterprise": ("企业", "enterprise"),
    "faults": ("故障", "Faults"),
    "redispatches": ("重新调度", "Re-dispatches"),
    "at": ("时间", "at"),
    "dropped": ("剔除", "dropped"),
    "added": ("新增", "added"),
    "residual_kw": ("剩余目标 [kW]", "residual [kW]"),
    "over_cap_kw": ("超出反弹上限 [kW]", "over cap [kW]"),
    "rebound_cap_kw": ("反弹上限 [kW]", "rebound cap [kW]"),
    "after_planned_kw": ("事件后峰值·计划 [kW]", "peak after, planned [kW]"),
    "after_measured_kw": ("事件后峰值·实测 [kW]", "peak after, measured [kW]"),
    "settlement": ("结算", "Settlement"),
    "asked_kwh": ("要求 [kWh]", "asked [kWh]"),
    "delivered_kwh": ("实际 [kWh]", "delivered [kWh]"),
    "payment_cny": ("补偿 [元]", "payment [CNY]"),
    "penalty_cny": ("考核 [元]", "penalty [CNY]"),
    "total": ("合计", "total"),
    "sites": ("站点与资源", "Sites and resources"),
    "site": ("站点", "site"),
    "max_kw": ("容量 [kW]", "size [kW]"),
    "commitments": ("即将承担的响应", "Upcoming commitments"),
    "live_delivery": ("实时响应", "Live delivery"),
    "settlements": ("结算记录", "Settlements"),
    "back": ("返回", "Back"),
    "local_time": ("当地时间", "local time"),
    "no_view": ("此角色没有监控视图", "this role has no dashboard view"),
    "shortfall_kwh": ("缺口 [kWh]", "shortfall [kWh]"),
    "live": ("实时", "live"),
    "now_kw": ("本时段响应 [kW]", "this interval [kW]"),
    # event and participant states
    "received": ("已接收", "received"),
    "scheduled": ("已排程", "scheduled"),
    "notified": ("已通知", "notified"),
    "cancelled": ("已取消", "cancelled"),
    "planned_state": ("已计划", "planned"),
    "commanded": ("已下发", "commanded"),
    "acknowledged": ("已确认", "acknowledged"),
    "delivering": ("响应中", "delivering"),
    "offline": ("离线", "offline"),
    "done": ("完成", "done"),
    "peak_shaving": ("削峰", "peak shaving"),
    "valley_filling": ("填谷", "valley filling"),
}


def pick_lang(requested: str | None) -> str:
    return requested if requested in LANGS else DEFAULT_LANG


def labels(lang: str) -> dict[str, str]:
    """Every label in one language, by key (a missing key shows itself)."""
    index = 0 if lang == "zh-CN" else 1
    return {key: pair[index] for key, pair in _LABELS.items()}
