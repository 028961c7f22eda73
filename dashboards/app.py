"""The web server of ``popstats serve``: the online query API of CONTRACT §6, behind a
deny-by-default guard that the Dash dashboards (issue 5) will sit behind as well.

Every request passes ``_guard`` before any route runs. Only the routes listed in
``PUBLIC`` are reachable without credentials (the API routes check their bearer token
themselves and answer 401); anything else is refused — there is no page that shows data
to anyone not logged in.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from access.api import (
    OPENAPI,
    ApiResponse,
    RateLimiter,
    log_answer,
    releases_answer,
    table_answer,
)
from access.db import database_url, make_engine, session_factory, upgrade_engine
from dashboards.downloads import install_downloads
from dashboards.web import PUBLIC_PAGES, install

API_PREFIX = "/api/v1/"
PUBLIC = ("/api/v1/openapi.json",)  # the API description holds no data
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class ServerSettings:
    """Where the server finds its releases, database and delivery outbox."""

    releases: Path
    db_url: str | None = None
    outbox: Path = Path("outbox")
    rate_limit: int = 120  # requests per token per minute
    boundaries: Path | None = None  # TopoJSON/GeoJSON files with MOI codes (the Map page)


def _answer(response: ApiResponse) -> Response:
    return Response(response.body, status=response.status, content_type=response.content_type)


def create_app(settings: ServerSettings, clock: type[datetime] = datetime) -> Flask:
    """The Flask application (the factory the tests and ``popstats serve`` use)."""
    app = Flask(__name__)
    app.debug = False  # never debug=True: no Werkzeug debugger, no Dash dev tools
    app.config.update(SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True)
    engine = make_engine(database_url(settings.db_url))
    upgrade_engine(engine)
    sessions = session_factory(engine)
    limiter = RateLimiter(limit=settings.rate_limit)

    def now() -> datetime:
        return clock.now(UTC)

    @app.before_request
    def _guard() -> Response | None:
        """Deny by default: only the API (own bearer auth) and the listed public routes."""
        path = request.path
        if path in PUBLIC:
            return None
        if path.startswith(API_PREFIX):
            key = request.headers.get("Authorization") or request.remote_addr or "anonymous"
            with sessions() as session:
                allowed = limiter.allow(session, key, now())
                session.commit()
            if not allowed:
                return _answer(ApiResponse(429, b'{"error": "too many requests"}'))
            return None
        if getattr(g, "web_user", None) is not None or path in PUBLIC_PAGES:
            return None  # the dashboards' session guard (dashboards.web) ran first
        return _answer(ApiResponse(401, json.dumps({"error": "login required"}).encode()))

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)  # Dash pages set their own CSP
        return response

    @app.get("/healthz")
    def health() -> Response:
        """For a proxy or orchestrator: the database answers and the releases folder is
        there. Public, so it says nothing but that."""
        failing = [] if settings.releases.is_dir() else ["releases"]
        try:
            with sessions() as session:
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            failing.append("database")
        body = {"status": "unavailable" if failing else "ok", "failing": failing}
        return _answer(ApiResponse(503 if failing else 200, json.dumps(body).encode()))

    @app.get("/api/v1/openapi.json")
    def openapi() -> Response:
        return _answer(ApiResponse(200, json.dumps(OPENAPI, ensure_ascii=False).encode()))

    @app.get("/api/v1/releases")
    def releases() -> Response:
        with sessions() as session:
            return _answer(releases_answer(session, request.headers.get("Authorization"),
                                           settings.releases, now()))

    @app.get("/api/v1/tables/<table>")
    def table(table: str) -> Response:
        with sessions() as session:
            return _answer(table_answer(
                session, request.headers.get("Authorization"), settings.releases, table,
                dict(request.args), request.headers.get("Accept"), settings.outbox, now(),
            ))

    @app.get("/api/v1/log")
    def own_log() -> Response:
        with sessions() as session:
            return _answer(log_answer(session, request.headers.get("Authorization"),
                                      dict(request.args), request.headers.get("Accept"), now()))

    install_downloads(app)  # GET /deliveries/<id>/file
    install(app, settings.releases, sessions, now, outbox=settings.outbox,
            boundaries=settings.boundaries)
    return app
