"""The web server of ``popstats serve``: the online query API of CONTRACT §6, behind a
deny-by-default guard that the Dash dashboards (issue 5) will sit behind as well.

Every request passes ``_guard`` before any route runs. Only the routes listed in
``PUBLIC`` are reachable without credentials (the API routes check their bearer token
themselves and answer 401); anything else is refused — there is no page that shows data
to anyone not logged in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from access.api import (
    ProviderOutage,
    log_answer,
    notices_answer,
    outage_answer,
    releases_answer,
    table_answer,
)
from access.api_http import ApiResponse, bearer_user, live_token
from access.api_inflight import InFlight, agency_slot, busy_refusal
from access.api_limits import ApiLimits, RateLimiter, admit_request
from access.db import database_url, make_engine, session_factory, upgrade_engine
from access.openapi import OPENAPI
from access.query_api import MAX_BODY, query_answer
from dashboards.bulletin_download import install_bulletins
from dashboards.downloads import install_downloads
from dashboards.web import PUBLIC_PAGES, install
from stats.store import Place

API_PREFIX = "/api/"  # everything under it answers JSON, never a Dash page
PUBLIC = ("/api/v1/openapi.json",)  # the API description holds no data
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'",
    "Cache-Control": "no-store",
}


def _env_limit(name: str, default: int, may_be_none: bool = True, *, low: int = 1,
               high: int | None = None) -> Any:
    """A limit from the environment: a whole number from ``low`` (to ``high``), or ``none``
    for no limit."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value == "none" and may_be_none:
        return None
    if not value.isdigit() or int(value) < low or (high is not None and int(value) > high):
        span = f"from {low}" if high is None else f"{low} to {high}"
        raise ValueError(f"{name} must be a whole number {span}"
                         f"{', or none' if may_be_none else ''}; not {value!r}")
    return int(value)


@dataclass(frozen=True)
class ServerSettings:
    """Where the server finds its releases, database and delivery outbox."""

    releases: Place  # a local folder, or s3://bucket/prefix (stats.store)
    db_url: str | None = None
    outbox: Place = Path("outbox")
    # requests per token (or, without one, per address) and per agency (all its tokens) per
    # minute; online-query answer bytes per agency per Taipei day ("none": no limit)
    rate_limit: int = field(default_factory=lambda: _env_limit("POPSTATS_API_RATE_LIMIT", 120,
                                                                False))
    agency_rate_limit: int | None = field(
        default_factory=lambda: _env_limit("POPSTATS_API_AGENCY_RATE_LIMIT", 240))
    api_daily_bytes: int | None = field(
        default_factory=lambda: _env_limit("POPSTATS_API_DAILY_BYTES", 2 * 1024**3))
    # large answers (more than one area) one agency may have in flight at once, across
    # every worker ("none": no limit); how long a further one waits before its 429 (a
    # gunicorn sync worker is held meanwhile: 0 refuses at once)
    api_in_flight: int | None = field(
        default_factory=lambda: _env_limit("POPSTATS_API_AGENCY_IN_FLIGHT", 1))
    api_in_flight_wait_ms: int = field(
        default_factory=lambda: _env_limit("POPSTATS_API_IN_FLIGHT_WAIT_MS", 100, False,
                                           low=0, high=60_000))
    boundaries: Path | None = None  # TopoJSON/GeoJSON files with MOI codes (the Map page)


def _answer(response: ApiResponse) -> Response:
    answer = Response(response.body, status=response.status, content_type=response.content_type)
    answer.headers.extend(response.headers)
    return answer


def _json(status: int, message: str) -> Response:
    return _answer(ApiResponse(status, json.dumps({"error": message}).encode()))


class PlainRequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler without its ``Server: Werkzeug/x Python/y`` header: no
    header names a version of anything."""

    def version_string(self) -> str:
        return "popstats"


def plain_server(app: Flask, host: str, port: int) -> BaseWSGIServer:
    """A threaded server for ``app`` whose answers name no version (``PlainRequestHandler``)."""
    return make_server(host, port, app, threaded=True, request_handler=PlainRequestHandler)


def run_server(app: Flask, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (``popstats serve``)."""
    plain_server(app, host, port).serve_forever()


def _single(args: Any) -> dict[str, str]:
    """The query string with each parameter once; a repeated one keeps its *last* value under
    a name that no handler accepts, so the query is refused as ambiguous (400)."""
    single = {}
    for name, values in args.lists():
        single[name if len(values) == 1 else f"{name} (given {len(values)} times)"] = values[-1]
    return single


def create_app(settings: ServerSettings, clock: type[datetime] = datetime) -> Flask:
    """The Flask application (the factory the tests and ``popstats serve`` use)."""
    app = Flask(__name__)
    app.debug = False  # never debug=True: no Werkzeug debugger, no Dash dev tools
    app.config.update(SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_HTTPONLY=True)
    engine = make_engine(database_url(settings.db_url))
    upgrade_engine(engine)
    sessions = session_factory(engine)
    limiter = RateLimiter(limit=settings.rate_limit, agency_limit=settings.agency_rate_limit)
    limits = ApiLimits(daily_bytes=settings.api_daily_bytes)
    in_flight = InFlight(limit=settings.api_in_flight,
                         wait=timedelta(milliseconds=settings.api_in_flight_wait_ms))

    def now() -> datetime:
        return clock.now(UTC)

    @app.before_request
    def _guard() -> Response | None:
        """Deny by default: only the API (own bearer auth) and the listed public routes."""
        path = request.path
        if path in PUBLIC:
            return None
        if path.startswith(API_PREFIX):
            return _api_guard()
        if getattr(g, "web_user", None) is not None or path in PUBLIC_PAGES:
            return None  # the dashboards' session guard (dashboards.web) ran first
        return _answer(ApiResponse(401, json.dumps({"error": "login required"}).encode()))

    def _api_guard() -> Response | None:
        """Every /api/ request: counted by the rate limit (per token and agency, else per
        address), then only the API's own routes; anything else is a JSON 401 (no valid
        token) or 404/405, never a Dash page. A failing database is a 503 (point 15).
        The session opened here is the route's too (``api_session``)."""
        authorization = request.headers.get("Authorization")
        session = g.api_session = sessions()  # closed at teardown
        try:
            refused = admit_request(session, limiter, authorization, request.remote_addr,
                                    now())
            if refused is not None:
                return _answer(refused)
            rule = request.url_rule
            if rule is not None and rule.rule.startswith(API_PREFIX):
                return None  # a route of the API's own (Dash's catch-all is not one)
            if bearer_user(session, authorization, now()) is None:
                return _json(401, "missing or invalid bearer token")
        except SQLAlchemyError as error:
            return _answer(outage_answer(None, None, "api", now(),
                                         ProviderOutage("database", error)))
        if isinstance(request.routing_exception, MethodNotAllowed):
            return _json(405, f"{request.method} is not allowed on {request.path[:100]}")
        return _json(404, "no such API path; see /api/v1/openapi.json")

    @contextmanager
    def api_session() -> Iterator[Session]:
        """The session the request's rate-limit gate opened: the route's work continues in
        it, so the token the gate looked up is not looked up again (access.api_http)."""
        yield g.api_session if "api_session" in g else g.setdefault("api_session", sessions())

    @contextmanager
    def one_at_a_time(session: Session, large: bool) -> Iterator[Response | None]:
        """For a large answer of an agency's token: one of the agency's in-flight slots held
        while the answer is made (None), or the 429 when they stay taken (access.api_inflight).
        An answer of one area is a few hundred rows: never queued."""
        token = live_token(session, request.headers.get("Authorization"), now()) \
            if large else None
        if token is None or token.user.agency_id is None:
            yield None  # the route answers (or refuses) it
            return
        with agency_slot(engine, token.user.agency_id, in_flight) as held:
            yield None if held else _answer(busy_refusal(session, limiter, token, in_flight,
                                                         now()))

    @app.teardown_request
    def _close_api_session(_error: BaseException | None) -> None:
        session = g.pop("api_session", None)
        if session is not None:
            session.close()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response | HTTPException:
        """Errors under /api/ answer JSON; the rest keep Flask's and Dash's own pages."""
        if request.path.startswith(API_PREFIX):
            return _json(error.code or 500, error.description or error.name)
        return error

    @app.errorhandler(SQLAlchemyError)
    def _database_down(error: SQLAlchemyError) -> Response:
        """The database failed mid-request: the provider's outage, 503 (point 15)."""
        return _answer(outage_answer(None, None, request.path[:100], now(),
                                     ProviderOutage("database", error)))

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)  # Dash pages set their own CSP
        response.headers.pop("Server", None)
        return response

    @app.get("/healthz")
    def health() -> Response:
        """For a proxy or orchestrator: the database answers and the releases folder is
        there. Public, so it says nothing but that."""
        try:  # a bucket that cannot be reached is a failing part, not a 500
            failing = [] if settings.releases.is_dir() else ["releases"]
        except OSError:
            failing = ["releases"]
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
        with api_session() as session:
            return _answer(releases_answer(session, request.headers.get("Authorization"),
                                           settings.releases, now()))

    @app.get("/api/v1/tables/<table>")
    def table(table: str) -> Response:
        with api_session() as session, one_at_a_time(
                session, "area_code" not in request.args) as busy:
            if busy is not None:
                return busy
            return _answer(table_answer(
                session, request.headers.get("Authorization"), settings.releases, table,
                _single(request.args), request.headers.get("Accept"), now(), limits,
            ))

    @app.post("/api/v1/query")
    def query() -> Response:
        """CONTRACT §7's query document in the body; a body too large is not read."""
        too_big = (request.content_length or 0) > MAX_BODY
        body = b" " * (MAX_BODY + 1) if too_big else request.get_data(cache=False)
        with api_session() as session, one_at_a_time(session, True) as busy:
            if busy is not None:
                return busy
            return _answer(query_answer(
                session, request.headers.get("Authorization"), settings.releases, body,
                request.headers.get("Accept"), now(), limits,
            ))

    @app.get("/api/v1/notices")
    def notices() -> Response:
        with api_session() as session:
            return _answer(notices_answer(session, request.headers.get("Authorization"), now()))

    @app.get("/api/v1/log")
    def own_log() -> Response:
        with api_session() as session:
            return _answer(log_answer(session, request.headers.get("Authorization"),
                                      _single(request.args), request.headers.get("Accept"),
                                      now()))

    install_downloads(app)  # GET /deliveries/<id>/file
    install_bulletins(app)  # GET /releases/<period>/bulletin-<lang>.<fmt>
    install(app, settings.releases, sessions, now, outbox=settings.outbox,
            boundaries=settings.boundaries)
    return app
