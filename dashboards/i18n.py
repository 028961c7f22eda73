"""Language of the dashboards: zh-TW (default) or English, chosen per browser.

The choice lives in a plain cookie (``popstats_lang``) set by ``POST /language`` (CSRF
checked like every other POST); layouts and callbacks read it from the request, so a page
renders in one language throughout. Period labels follow the language: the ROC calendar in
Chinese (``114年3月``), the Gregorian one in English (``Mar 2025``).
"""

from __future__ import annotations

from datetime import datetime

from flask import has_request_context, request

from stats.periods import Period
from stats.taipei import format_time

LANG_COOKIE = "popstats_lang"
LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-Hant-TW", "en": "en"}
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NATIONAL_NAME = {"zh": "全國", "en": "Taiwan"}


def language() -> str:
    """The caller's language: the cookie's when valid, else Chinese."""
    if not has_request_context():
        return "zh"
    chosen = request.cookies.get(LANG_COOKIE, "zh")
    return chosen if chosen in LANGUAGES else "zh"


def t(zh: str, en: str) -> str:
    """The text in the caller's language."""
    return en if language() == "en" else zh


def period_label(period: str, lang: str | None = None) -> str:
    """``114年3月`` / ``Mar 2025``; ``114年第1季`` / ``2025 Q1``; ``114年`` / ``2025``; a span
    ``FROM..TO`` (a query's delivery) as ``113年3月至114年3月`` / ``Mar 2024 – Mar 2025``."""
    first, span, last = period.partition("..")
    if span:
        lang = lang or language()
        joiner = "至" if lang == "zh" else " – "
        return f"{period_label(first, lang)}{joiner}{period_label(last, lang)}"
    parsed = Period.parse(period)
    if (lang or language()) == "zh":
        return parsed.roc_label
    if parsed.kind == "month":
        return f"{MONTHS_EN[parsed.number - 1]} {parsed.year}"
    if parsed.kind == "quarter":
        return f"{parsed.year} Q{parsed.number}"
    return str(parsed.year)


def period_both(period: str) -> str:
    """The label in the caller's language followed by the contract's period string."""
    return f"{period_label(period)} ({period})"


def local_time(moment: datetime | None, *, seconds: bool = False, label: bool = True) -> str:
    """A moment as the caller reads it, on Taipei clocks, in which the regulation's days are
    counted: ``115年12月10日 16:00 臺北時間`` / ``2026-12-10 16:00 +08:00`` (— when absent).
    ``label=False`` where a heading already says 臺北時間; a naive moment is UTC, as stored."""
    return format_time(moment, language(), seconds=seconds, label=label)
