"""The dashboard's session: the bearer token in an HttpOnly cookie, CSRF tokens for forms.

The cookie holds the same bearer token the API takes, so the store's token check and the
API's role and enterprise rules (``vpp.api.deps``) decide what a page may show; there is no
second permission model. State-changing forms carry a CSRF token derived from the session's
token: another site can neither read it nor compute it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

from fastapi import Request

from vpp.api.deps import check_enterprise, get_service, require
from vpp.api.errors import ApiError
from vpp.store import Role, TokenInfo

SESSION_COOKIE = "vpp_session"
LANG_COOKIE = "vpp_lang"
UI_PREFIX = "/ui"
#: Longest form body a page accepts [bytes].
MAX_FORM_BYTES = 16_384


class LoginRequiredError(Exception):
    """No session, or its token was revoked: the page sends the browser to the login form."""


class UiError(Exception):
    """A refusal shown as a page (status and message), not as the API's JSON body."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def csrf_token(bearer: str) -> str:
    """The session's CSRF token: an HMAC of a fixed label keyed by the bearer token."""
    return hmac.new(bearer.encode(), b"vpp-ui-csrf", hashlib.sha256).hexdigest()


class Session:
    """The logged-in caller: their token (for CSRF) and its role and scope."""

    def __init__(self, bearer: str, principal: TokenInfo) -> None:
        self.bearer = bearer
        self.principal = principal

    @property
    def csrf(self) -> str:
        return csrf_token(self.bearer)

    async def require_operator(self) -> None:
        """Operators and admins, checked by the API's own rule."""
        await _as_page(require(Role.OPERATOR), self.principal)

    def require_enterprise(self, enterprise_id: str) -> None:
        try:
            check_enterprise(self.principal, enterprise_id, write=False)
        except ApiError as exc:
            raise UiError(exc.status, exc.message) from None


async def _as_page(
    check: Callable[[TokenInfo], Awaitable[TokenInfo]], principal: TokenInfo
) -> None:
    try:
        await check(principal)
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None


async def current_session(request: Request) -> Session:
    """The session of this request; LoginRequiredError when there is none or it lapsed."""
    bearer = request.cookies.get(SESSION_COOKIE)
    if not bearer:
        raise LoginRequiredError
    principal = await get_service(request).store.tokens.authenticate(bearer)
    if principal is None:
        raise LoginRequiredError
    return Session(bearer, principal)


async def read_form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body, first value of each field."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise UiError(413, "form too large")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        raise UiError(400, "malformed form") from None
    return {name: values[0] for name, values in fields.items()}


def check_csrf(session: Session, form: dict[str, str]) -> None:
    # as bytes: compare_digest refuses str with non-ASCII characters (a forged form's)
    if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
        raise UiError(403, "CSRF token missing or wrong: reload the page and try again")
