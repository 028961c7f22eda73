"""The login page (plain HTML, nothing of Dash) and the check on where a redirect may go.

The page follows the language cookie like the dashboards (``?lang=en`` / ``?lang=zh``
switches it: the anonymous visitor has no session for ``POST /language``; the link comes
after the form, so the first Tab still reaches the user name) and carries the
dashboards' own stylesheet inline, since ``/assets/`` is served to logged-in users only.
"""

from __future__ import annotations

import html
import re
from functools import cache
from pathlib import Path

from flask import Response

from dashboards.i18n import HTML_LANG

STYLESHEET = Path(__file__).parent / "assets" / "popstats.css"
TEXT = {
    "title": ("登入 — 人口統計", "Log in — Population statistics"),
    "app": ("人口統計", "Population statistics"),
    "heading": ("登入", "Log in"),
    "intro": ("請以機關核發的帳號登入。", "Log in with the account your agency was given."),
    "username": ("帳號", "Username"),
    "password": ("密碼", "Password"),
    "submit": ("登入", "Log in"),
    "switch": ("English", "中文"),
    "failed": ("登入失敗：帳號或密碼錯誤，或帳號已暫時鎖定。",
               "Login failed: invalid username or password, or the account is locked."),
    "wait": ("嘗試次數過多，請於 {seconds} 秒後再試。",
             "Too many attempts: please try again in {seconds} seconds."),
    "reload": ("請重新整理頁面後再試一次。", "Please reload the page and try again."),
}
# control characters and whitespace anywhere in a redirect target: browsers drop tabs and
# newlines, so "/\t/evil.example" would become "//evil.example" (another site)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00a0\u2028\u2029\u3000]")


def say(key: str, lang: str, **values: object) -> str:
    zh, en = TEXT[key]
    return (en if lang == "en" else zh).format(**values)


@cache
def _stylesheet() -> str:
    return STYLESHEET.read_text(encoding="utf-8")


def login_page(message: str | None, token: str, lang: str, status: int = 200) -> Response:
    """The login form in ``lang`` with an optional alert ``message``."""
    other = "en" if lang == "zh" else "zh"
    alert = f'<p role="alert" class="error">{html.escape(message)}</p>' if message else ""
    body = f"""<!doctype html>
<html lang="{HTML_LANG[lang]}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{say("title", lang)}</title><link rel="icon" href="data:,">
<style>{_stylesheet()}</style></head>
<body><header class="shell-header"><span class="app-name">{say("app", lang)}</span></header>
<main id="main"><div class="login-box"><h1>{say("heading", lang)}</h1>
<p>{say("intro", lang)}</p>
{alert}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{html.escape(token)}">
<label for="username">{say("username", lang)}</label>
<input id="username" name="username" autocomplete="username" required maxlength="100">
<label for="password">{say("password", lang)}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<p><button type="submit" class="primary">{say("submit", lang)}</button></p>
</form>
<p class="login-language"><a class="nav-link" id="login-language" href="/login?lang={other}"
lang="{HTML_LANG[other]}">{say("switch", lang)}</a></p></div></main></body></html>"""
    return Response(body, status=status, content_type="text/html; charset=utf-8")


def safe_next(target: str | None) -> str:
    """A same-site path to redirect to, or ``/``: control characters and whitespace are
    removed first (as a browser would), then anything but a plain local path is refused:
    a scheme (``javascript:``, ``https:``), a host (``//``) or a backslash (``/\\``, which
    browsers read as ``//``)."""
    cleaned = _INVISIBLE.sub("", target or "")
    if not cleaned.startswith("/") or cleaned.startswith("//") or "\\" in cleaned:
        return "/"
    return cleaned
