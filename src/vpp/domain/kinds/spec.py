"""What the rest of vpp needs to know about a resource kind, and the registry of kinds.

A kind is one :class:`ResourceKind` next to its model: how it is commanded, how a command
is bounded by the registered limits, whether it stores energy, how early a changed command
must leave to ramp in time, what it can physically draw (what a reading of it may say) and
how its response is priced. Safety, controller, checker, settlement and simulator ask the
spec instead of comparing kind strings, so a new kind is one module here (plus an optimiser
builder and a physics model), registered in one line with :func:`register_kind`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Any, Generic, TypeVar

from pydantic import Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from vpp.domain._base import ALL_DAY, DailyWindow, FrozenModel, Slug
from vpp.domain.dispatch import SetpointMode

#: Slack on registered limits, so a value rounded on its way is not refused [kW].
LIMIT_TOL_KW = 1e-6


class ResourceBase(FrozenModel):
    """Fields every resource kind shares; a kind's model adds ``kind`` and its limits."""

    if TYPE_CHECKING:
        kind: str  # each kind's model declares it as a Literal with its name as default

    resource_id: Slug
    name: str | None = None
    availability: tuple[DailyWindow, ...] = Field(
        default=(ALL_DAY,),
        min_length=1,
        description="local times of day the owner allows dispatch, e.g. ['08:00-22:00']",
    )
    protocol: Slug | None = Field(
        default=None,
        description="how vpp reaches this resource (mqtt, ocpp, modbus); None: its site's",
    )
    connection: dict[str, Any] | None = Field(
        default=None,
        description="the protocol's connection settings (charge points, host and register map)"
        "; checked by that protocol's adapter when the district is registered",
    )


R = TypeVar("R", bound=ResourceBase)


def _no_recovery(resource: Any) -> timedelta | None:
    return None


def _own_price(resource: Any, asked_kw: float) -> float:
    price: float = getattr(resource, "price_cny_per_kwh", 0.0)
    return price


@dataclass(frozen=True)
class ResourceKind(Generic[R]):
    """One resource kind: everything outside its own modules needs to know about it.

    Attributes
    ----------
    name
        The ``kind`` tag in registrations, schedules and the MQTT contract.
    model
        The pydantic model of its registration.
    modes
        Setpoint modes it obeys besides ``release``, the one it is commanded with first;
        empty: not dispatchable (it takes no commands).
    command_range_kw
        The range a commanded ``power_kw`` must lie in, from the registered limits [kW].
    range_names
        What the low and high ends of that range are called in its registration, for
        the reason a command is refused ("" when it has no name).
    envelope_kw
        The power it can physically draw, from its registration and a headroom over a
        typical-only registration [%] [kW, consumption > 0]; plausibility widens it.
    flexibility_kw
        Nominal flexibility it registers, for rotation fairness [kW].
    stores_energy
        Whether it carries a state of charge the controller measures and re-plans from.
    ramp_lead_s
        How early a changed command takes effect so it has ramped in time [s]; 0: seconds.
    recovers_under_command
        Whether it stays commanded after the window, so its planned recovery happens.
    recovery
        How long after an event it needs to return to normal (None: no longer than usual).
    asked_price_cny_per_kwh
        The price it asks for ``asked_kw`` of response [CNY/kWh].
    plot_color
        Its colour in reports.
    energy_owed_max_kwh
        The most energy its telemetry may say it still owes its users (an EV pool's
        plugged-in vehicles) [kWh]; None: it reports none (only 0 is plausible).
    """

    name: str
    model: type[R]
    modes: tuple[SetpointMode, ...]
    command_range_kw: Callable[[R], tuple[float, float]] | None
    envelope_kw: Callable[[R, float], tuple[float, float]]
    flexibility_kw: Callable[[R], float]
    stores_energy: bool = False
    ramp_lead_s: float = 0.0
    recovers_under_command: bool = False
    recovery: Callable[[R], timedelta | None] = _no_recovery
    asked_price_cny_per_kwh: Callable[[R, float], float] = _own_price
    plot_color: str = "#8C8C8C"
    range_names: tuple[str, str] = ("", "")
    energy_owed_max_kwh: Callable[[R], float] | None = None

    def __post_init__(self) -> None:
        tag = self.model.model_fields.get("kind")
        if tag is None or tag.default != self.name:
            raise ValueError(f"{self.model.__name__}: needs kind: Literal[{self.name!r}]")
        if self.modes and self.command_range_kw is None:
            raise ValueError(f"{self.name}: a commanded kind needs command_range_kw")
        if SetpointMode.RELEASE in self.modes:
            raise ValueError(f"{self.name}: release is always obeyed, list the others")

    @property
    def dispatchable(self) -> bool:
        """Whether it takes commands at all."""
        return bool(self.modes)

    @property
    def command_mode(self) -> SetpointMode | None:
        """The mode the controller commands it with (None: not dispatchable)."""
        return self.modes[0] if self.modes else None


_KINDS: dict[str, ResourceKind[Any]] = {}
_ON_CHANGE: list[Callable[[], None]] = []


def register_kind(spec: ResourceKind[R]) -> ResourceKind[R]:
    """Make a kind known: registrations of it validate, and every part asks its spec."""
    if spec.name in _KINDS and _KINDS[spec.name] is not spec:
        raise ValueError(f"kind {spec.name!r} is already registered")
    _KINDS[spec.name] = spec
    _changed()
    return spec


def unregister_kind(name: str) -> None:
    """Forget a kind (a test's own kind, a plugin unloaded)."""
    if _KINDS.pop(name, None) is not None:
        _changed()


def on_kinds_changed(rebuild: Callable[[], None]) -> None:
    """Call ``rebuild`` whenever the set of kinds changes: models that embed a
    :data:`Resource` rebuild their validators so a new kind's registrations validate."""
    _ON_CHANGE.append(rebuild)


def _changed() -> None:
    for rebuild in _ON_CHANGE:
        rebuild()


def kinds() -> tuple[ResourceKind[Any], ...]:
    """Every registered kind, in registration order."""
    return tuple(_KINDS.values())


def kind_names() -> tuple[str, ...]:
    """The registered ``kind`` tags, in registration order."""
    return tuple(_KINDS)


def kind_of(resource: ResourceBase | str) -> ResourceKind[Any]:
    """The spec of a resource, or of a ``kind`` tag (a schedule's)."""
    name = resource if isinstance(resource, str) else resource.kind
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"kind {name!r} is not registered (known: {', '.join(_KINDS)})") from None


class _RegisteredKinds:
    """Validates a resource as the model its ``kind`` names, over the kinds registered when
    the enclosing model's schema is built (a tagged union: errors name the kind)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        choices: dict[Any, core_schema.CoreSchema] = {
            spec.name: handler.generate_schema(spec.model) for spec in _KINDS.values()
        }
        return core_schema.tagged_union_schema(choices, discriminator="kind")


Resource = Annotated[ResourceBase, _RegisteredKinds()]
"""Any registered resource; the ``kind`` field selects the model."""


def command_range_kw(resource: ResourceBase) -> tuple[float, float] | None:
    """The range a commanded ``power_kw`` must lie in, or None when it takes no commands."""
    spec = kind_of(resource)
    if spec.command_range_kw is None:
        return None
    return spec.command_range_kw(resource)


def command_refusal(
    resource: ResourceBase, mode: SetpointMode, power_kw: float, tol_kw: float = LIMIT_TOL_KW
) -> str | None:
    """Why a command must not reach this resource, or None when it may: a mode the kind
    does not obey, or a ``power_kw`` beyond its registered limits. The one bound every
    sender and receiver of a command applies."""
    if mode is SetpointMode.RELEASE:
        return None
    spec = kind_of(resource)
    if not spec.modes:
        return f"{spec.name} takes no commands"
    if mode not in spec.modes:
        known = ", ".join(sorted(m.value for m in spec.modes))
        return f"{spec.name} takes {known}, not {mode.value}"
    bounds = command_range_kw(resource)
    assert bounds is not None  # a commanded kind has a range (checked at registration)
    (low, high), (low_name, high_name) = bounds, spec.range_names
    if power_kw < low - tol_kw:
        return f"{mode.value} {power_kw:g} kW below {low:g} kW" + _named(low_name)
    if power_kw > high + tol_kw:
        return f"{mode.value} {power_kw:g} kW above {high:g} kW" + _named(high_name)
    return None


def _named(limit: str) -> str:
    return f" ({limit})" if limit else ""
