"""What every answer of the online query API shares: its form (``ApiResponse``, JSON errors)
and who is asking (``Authorization: Bearer TOKEN``, parsed strictly: RFC 6750)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from access.accounts import hash_secret
from access.models import ApiToken, User

CHANNEL = "online_query"


@dataclass(frozen=True)
class ApiResponse:
    """Status, body bytes, content type and extra headers of one answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


def error_answer(status: int, message: str, headers: tuple[tuple[str, str], ...] = (),
           **extra: Any) -> ApiResponse:
    body = json.dumps({"error": message, **extra}, ensure_ascii=False).encode()
    return ApiResponse(status, body, headers=headers)


def unauthorized() -> ApiResponse:
    return error_answer(401, "missing or invalid bearer token (Authorization: Bearer TOKEN)",
                  (("WWW-Authenticate", 'Bearer realm="popstats"'),))


# RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token; we accept exactly one space (every
# client sends one) and the scheme in any case (RFC 7235 §2.1: schemes are case-insensitive).
BEARER = re.compile(r"(?i:bearer) ([A-Za-z0-9\-._~+/]+=*)")
MAX_AUTHORIZATION = 256


def bearer_token(authorization: str | None) -> str | None:
    """The token of a well-formed ``Authorization: Bearer TOKEN`` header, else None."""
    if not authorization or len(authorization) > MAX_AUTHORIZATION:
        return None
    match = BEARER.fullmatch(authorization)
    return match.group(1) if match else None


_LOOKED_UP = "popstats.api.token"  # session.info: (header, the token row it named, or None)


def live_token(session: Session, authorization: str | None, now: datetime) -> ApiToken | None:
    """The unrevoked, unexpired token of an agency user named by the header, or None.

    One query: the token with its user (every caller looks at the user), and once per
    session: a server's request opens one session for its rate-limit gate and its route
    (``dashboards.app``), so the route takes the row the gate read a few milliseconds
    earlier instead of asking the database again. Revocation and expiry are checked against
    ``now`` on every call."""
    value = bearer_token(authorization)
    if value is None:
        return None
    seen = session.info.get(_LOOKED_UP)
    if seen is not None and seen[0] == authorization and (seen[1] is None or seen[1] in session):
        token = seen[1]
    else:
        token = session.scalar(select(ApiToken).options(joinedload(ApiToken.user))
                               .where(ApiToken.token_hash == hash_secret(value)))
        session.info[_LOOKED_UP] = (authorization, token)
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and now >= token.expires_at:
        return None
    return token if token.user.agency_id is not None else None


def bearer_user(session: Session, authorization: str | None, now: datetime) -> User | None:
    """The agency user of an ``Authorization: Bearer TOKEN`` header, or None."""
    token = live_token(session, authorization, now)
    return token.user if token is not None else None
