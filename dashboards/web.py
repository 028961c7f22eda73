"""The Dash dashboards of issue 5 on the Flask server of ``create_app``: login, logout,
server-side sessions (``access.accounts``), the deny-by-default guard and
``protected_callback``.

Security model
--------------
* The session cookie (``popstats_session``) holds a random value whose SHA-256 is a
  ``LoginSession`` row; every request re-checks it with ``access.accounts.session_user``
  (revoked, suspended agency, absolute lifetime, idle timeout — all in the database, so
  several workers agree). A login
  always makes a new value (rotation); logout revokes it and clears the cookies.
* CSRF: cookies are ``SameSite=Strict``; every POST by a logged-in user must carry
  ``X-CSRFToken`` (Dash's renderer sends the ``_csrf_token`` cookie value in it) or the form
  field ``csrf_token``, an HMAC of the session value. The login form has its own token.
* The guard runs before every route. Public: ``/login`` only (plain Flask HTML, nothing of
  Dash). Anonymous callers get 401 for ``/_dash-*``, ``/_reload-hash`` and any non-browser
  request, and a redirect to ``/login`` for a browser asking for a page.
* Callbacks (``POST /_dash-update-component``) are counted per session in the database
  (``CALLBACK_LIMIT``, the API's ``RateLimiter``: every worker shares the count; 429 with
  ``Retry-After`` beyond it) and checked by ``dashboards.callback_guard`` before Dash reads
  them: a malformed body or a value of the wrong shape is answered 400, never 500.
* Logins go through ``access.accounts.login`` with the client's address: the login throttle
  (``access.login_throttle``) locks a name+address pair, slows an address spraying many
  names and delays a name attacked from many addresses, without locking the owner out; a
  refusal by the throttle is answered 429 with ``Retry-After``. Behind the reverse proxy
  every request comes from the proxy's address, so from a trusted proxy
  (``POPSTATS_TRUSTED_PROXIES``, default ``127.0.0.1,::1`` like gunicorn's
  ``--forwarded-allow-ips``) the last ``X-Forwarded-For`` entry — the address the proxy
  saw — is the client (``client_address``).
* ``/language`` redirects only to a same-site path (``login_page.safe_next``).
* Callbacks never trust their inputs for who is asking: they read release data only through
  ``dashboards.data.view``, which takes the user from the guard (``flask.g``) and passes
  every table × area through ``access.deliveries.record_view`` (``can_view`` + audit;
  refusals audited too).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import dash
from flask import Flask, Response, current_app, g, redirect, request
from flask_login import LoginManager, UserMixin
from sqlalchemy.orm import Session, sessionmaker

from access import accounts
from access.accounts import LoginFailed
from access.api_limits import RateLimiter
from access.models import User
from dashboards.callback_guard import InvalidCallback, check
from dashboards.i18n import LANG_COOKIE, LANGUAGES, language
from dashboards.login_page import login_page, safe_next, say
from stats.store import Place

SESSION_COOKIE = "popstats_session"
CSRF_COOKIE = "_csrf_token"  # read by dash-renderer, sent back as X-CSRFToken
LOGIN_CSRF_COOKIE = "popstats_login_csrf"
IDLE_TIMEOUT = accounts.IDLE_TIMEOUT
PUBLIC_PAGES = ("/login", "/healthz")  # /healthz: "ok" or which part fails, no data
DASH_PREFIXES = ("/_dash-", "/_reload-hash", "/_favicon")
EXTENSION = "popstats_dash"
CALLBACK_PATH = "/_dash-update-component"
# Callbacks per login session, counted in the database like the API's rate limit (so every
# worker shares the count): a page load fires about ten, a person clicking fast a few a
# second; 60 previews in a second is a script.
CALLBACK_LIMIT = RateLimiter(limit=40, window=timedelta(seconds=10))
MAX_BODY = 1 * 2**20  # bytes of any request body (a callback body is a few kilobytes)
INLINE_SCRIPT = re.compile(
    r'<script(?![^>]*\bsrc=)(?![^>]*type="application/json")[^>]*>(.*?)</script>', re.S)


class Refused(Exception):
    """A callback asked for something outside the caller's grant (already audited)."""


@dataclass
class Services:
    """What callbacks need, reachable through ``current_app.extensions``."""

    releases: Place  # a local folder, or s3://bucket/prefix (stats.store)
    sessions: sessionmaker[Session]
    now: Callable[[], datetime]
    secret: bytes
    outbox: Place = Path("outbox")  # where deliveries are written (stats.outbox)
    boundaries: Path | None = None  # configured area boundaries for the Map page

    def csrf_for(self, value: str) -> str:
        return hmac.new(self.secret, value.encode(), hashlib.sha256).hexdigest()


class WebUser(UserMixin):
    """Flask-Login's view of a live ``User`` (the row stays bound to this request's session)."""

    def __init__(self, user: User, session_value: str) -> None:
        self.user, self.session_value = user, session_value

    def get_id(self) -> str:
        return str(self.user.id)


def services() -> Services:
    return current_app.extensions[EXTENSION]


def current_user() -> User | None:
    web = getattr(g, "web_user", None)
    return web.user if web is not None else None


def client_address() -> str:
    """The caller's address for the login throttle: the connection's, or, when that is a
    trusted proxy, the last ``X-Forwarded-For`` entry (the one our proxy appended; entries
    before it are whatever the client sent and prove nothing)."""
    direct = request.remote_addr or "unknown"
    trusted = os.environ.get("POPSTATS_TRUSTED_PROXIES", "127.0.0.1,::1").split(",")
    forwarded = request.headers.get("X-Forwarded-For", "")
    if direct in {t.strip() for t in trusted} and forwarded.strip():
        return forwarded.split(",")[-1].strip()[:64] or direct
    return direct


def _wants_page() -> bool:
    return request.method == "GET" and "text/html" in (request.headers.get("Accept") or "")


def _deny() -> Response:
    if _wants_page() and not request.path.startswith(DASH_PREFIXES):
        return redirect("/login", code=302)
    return Response('{"error": "login required"}', status=401, content_type="application/json")


def install(app: Flask, releases: Place, sessions: sessionmaker[Session],
            now: Callable[[], datetime], outbox: Place = Path("outbox"),
            boundaries: Path | None = None) -> dash.Dash:
    """Attach login, logout, the session guard and the Dash pages to ``app``."""
    secret = os.environ.get("POPSTATS_SECRET_KEY", "").encode()
    if not secret:  # every worker must agree on it: made once, kept in the database
        with sessions() as db:
            secret = accounts.server_secret(db, "dashboards", now())
            db.commit()
    app.secret_key = secret
    svc = Services(releases, sessions, now, secret, outbox, boundaries)
    app.extensions[EXTENSION] = svc
    manager = LoginManager()
    manager.init_app(app)
    manager.session_protection = None

    @manager.request_loader
    def _load(_request: Any) -> WebUser | None:
        return getattr(g, "web_user", None)

    def resolve() -> WebUser | None:
        """The session's user (idle timeout and revocation checked in the database)."""
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        user = accounts.session_user(g.db, value, now(), idle=IDLE_TIMEOUT)
        g.db.commit()  # an idle session's revocation, or the touched last_seen_at
        return WebUser(user, value) if user is not None else None

    def guard() -> Response | None:
        """Runs after the API guard; everything not API/public needs a live session."""
        path = request.path
        if path.startswith("/api/"):
            return None
        g.db = sessions()
        g.web_user = resolve()
        if path in PUBLIC_PAGES:
            return None
        if g.web_user is None:
            return _deny()
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            sent = request.headers.get("X-CSRFToken") or request.form.get("csrf_token", "")
            if not hmac.compare_digest(sent, svc.csrf_for(g.web_user.session_value)):
                return Response('{"error": "bad or missing CSRF token"}', status=403,
                                content_type="application/json")
        if path == CALLBACK_PATH and request.method == "POST":
            return callback_gate(g.web_user)
        return None

    def callback_gate(web: WebUser) -> Response | None:
        """Count the callback against the session's limit (every request counts, also a
        refused one), then refuse a body no page of ours sends (``InvalidCallback``: 400)."""
        allowed = CALLBACK_LIMIT.allow(g.db, "dash-callbacks:" + web.session_value, now())
        g.db.commit()
        if not allowed:
            seconds = int(CALLBACK_LIMIT.window.total_seconds())
            body = {"error": "too many requests: please wait a few seconds",
                    "error_zh": "請求過於頻繁，請稍候幾秒再試。", "retry_after": seconds}
            return Response(json.dumps(body, ensure_ascii=False), status=429,
                            headers={"Retry-After": str(seconds)},
                            content_type="application/json")
        check(request.get_json(silent=True), app_dash.callback_map)
        return None

    # the API guard of create_app answers 401 for everything non-API; run ours first
    app.before_request_funcs.setdefault(None, []).insert(0, guard)
    if app.config.get("MAX_CONTENT_LENGTH") is None:  # larger bodies: 413
        app.config["MAX_CONTENT_LENGTH"] = MAX_BODY

    @app.errorhandler(InvalidCallback)
    def _invalid_callback(error: InvalidCallback) -> Response:
        """A malformed callback (guard or a page's input check): 400, never a 500."""
        return Response(json.dumps({"error": str(error)}, ensure_ascii=False), status=400,
                        content_type="application/json")

    @app.after_request
    def _csp(response: Response) -> Response:
        """Dash pages: allow only the index's own inline scripts (by hash) and inline styles
        (react-select injects <style>); no other origin, no framing, forms post here only."""
        if request.path.startswith("/api/") or not response.content_type.startswith("text/html"):
            return response
        hashes = ""
        if not response.direct_passthrough:
            page = response.get_data(as_text=True)
            for script in INLINE_SCRIPT.findall(page):
                digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
                hashes += f" 'sha256-{digest}'"
        response.headers["Content-Security-Policy"] = (
            f"default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        db = g.pop("db", None)
        if db is not None:
            db.close()

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Response:
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
        chosen = request.args.get("lang")  # the page's own switch: no session to POST with
        lang = chosen if chosen in LANGUAGES else language()
        if request.method == "GET":
            response = login_page(None, token, lang)
            if chosen in LANGUAGES:
                response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Strict",
                                    secure=request.is_secure, path="/")
        else:
            sent = request.form.get("csrf_token", "")
            if not request.cookies.get(LOGIN_CSRF_COOKIE) or not hmac.compare_digest(sent, token):
                return login_page(say("reload", lang), token, lang, 403)
            previous = request.cookies.get(SESSION_COOKIE)
            if previous:  # never reuse an earlier session: revoke it
                accounts.logout(g.db, previous, now())
                g.db.commit()
            try:
                result = accounts.login(g.db, request.form.get("username", ""),
                                        request.form.get("password", ""), now(),
                                        client=client_address())
            except LoginFailed as error:
                if not error.retry_after:
                    return login_page(say("failed", lang), token, lang, 401)
                # a throttled address, user name or pair: say how long, as every worker
                # would (the wait does not tell whether the name exists: unknown names
                # are throttled alike)
                page = login_page(say("wait", lang, seconds=error.retry_after), token, lang,
                                  429)
                page.headers["Retry-After"] = str(error.retry_after)
                return page
            response = redirect("/", code=303)
            secure = request.is_secure
            response.set_cookie(SESSION_COOKIE, result.session_token, httponly=True,
                                samesite="Strict", secure=secure, path="/")
            response.set_cookie(CSRF_COOKIE, svc.csrf_for(result.session_token), httponly=False,
                                samesite="Strict", secure=secure, path="/")
            response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
            return response
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict",
                            secure=request.is_secure, path="/")
        return response

    @app.post("/language")
    def choose_language() -> Response:
        """Remember the language in a cookie and go back to the page (local paths only)."""
        lang = request.form.get("lang", "zh")
        response = redirect(safe_next(request.form.get("next")), code=303)
        if lang in LANGUAGES:
            response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="Strict",
                                secure=request.is_secure, path="/")
        return response

    @app.post("/logout")
    def logout() -> Response:
        web: WebUser = g.web_user
        accounts.logout(g.db, web.session_value, now())
        g.db.commit()
        response = redirect("/login", code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
        return response

    app_dash = dash.Dash(
        __package__,
        server=app,
        use_pages=True,
        pages_folder=str(Path(__file__).parent / "pages"),
        title="人口統計 Population statistics",
        serve_locally=True,
        compress=False,
        # Without this, Dash renders every page's layout *and the shell* for the first
        # request's user and ships that "validation layout" in the page config to everyone
        # (another user's name, CSRF token and offered areas). Layouts here depend on the
        # session, so there is no single layout to validate against anyway.
        suppress_callback_exceptions=True,
    )
    from dashboards import shell  # imports this module: bind it only once the app exists

    app.extensions[EXTENSION + "_app"] = app_dash  # the tests enumerate its callbacks
    app_dash.layout = shell.layout
    shell.register(app_dash)
    _claim_page_callbacks(app_dash)
    return app_dash


def _claim_page_callbacks(app_dash: dash.Dash) -> None:
    """Give this app the callbacks its page modules just declared with ``dash.callback``.

    Dash keeps those in a process-wide list that the *first* app to serve a request takes,
    while it executes the page modules anew for every app it constructs. Taking them at
    construction lets several apps live in one process (the tests; two workers of gunicorn
    are two processes anyway), each with its own callbacks.
    """
    from dash import _callback

    for key in list(_callback.GLOBAL_CALLBACK_MAP):
        app_dash.callback_map[key] = _callback.GLOBAL_CALLBACK_MAP.pop(key)
    app_dash._callback_list.extend(_callback.GLOBAL_CALLBACK_LIST)  # noqa: SLF001
    _callback.GLOBAL_CALLBACK_LIST.clear()
