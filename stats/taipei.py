"""Times as people in Taiwan type and read them; UTC everywhere else.

The product's rule: moments are stored and exchanged (database, manifests, JSON, API) in
UTC or ISO 8601 with an explicit offset. A time a person types without a zone is a Taipei
time; a time a person reads is a Taipei time, to the minute (seconds where an audit needs
them), labelled as such — in Chinese with the ROC calendar (``115年12月10日 16:00 臺北時間``),
in English as ISO with its offset (``2026-12-10 16:00 +08:00``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

TAIPEI = ZoneInfo("Asia/Taipei")
ROC_OFFSET = 1911
LABEL = {"zh": "臺北時間", "en": "Taipei time"}

# 115/12/10 16:00, 115-12-10 16:00:30, 115.12.10 (ROC year of 1–3 digits, separators)
_ROC_SEPARATED = re.compile(
    r"^(\d{1,3})[/.\-](\d{1,2})[/.\-](\d{1,2})(?:[ T](\d{1,2}):?(\d{2})(?::?(\d{2}))?)?$"
)
# 1151210 1600, 1151210 160030, 1151210 (seven-digit ROC date as in the register's files)
_ROC_COMPACT = re.compile(r"^(\d{7})(?:[ T](\d{2}):?(\d{2})(?::?(\d{2}))?)?$")


class TimeInputError(ValueError):
    """A typed time that is neither ISO 8601 nor an ROC date and time."""


def now_utc() -> datetime:
    """The current moment, aware, in UTC."""
    return datetime.now(UTC)


def _roc_moment(year: str, month: str, day: str, hh: str | None, mm: str | None,
                ss: str | None, text: str) -> datetime:
    try:
        return datetime(int(year) + ROC_OFFSET, int(month), int(day), int(hh or 0),
                        int(mm or 0), int(ss or 0), tzinfo=TAIPEI)
    except ValueError as exc:
        raise TimeInputError(f"{text!r} is not a real date and time ({exc})") from exc


def parse_time(text: str) -> datetime:
    """A typed time as an aware UTC moment.

    Accepts ISO 8601 (``2026-12-10 16:00``, ``2026-12-10T16:00+08:00``, ``…Z``) and the
    ROC forms ``115/12/10 16:00`` and ``1151210 1600``. Without a zone the time is a Taipei
    time; with one, the zone given is honoured.
    """
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise TimeInputError("an empty time")
    if match := _ROC_COMPACT.match(cleaned):
        digits, hh, mm, ss = match.groups()
        moment = _roc_moment(digits[:3], digits[3:5], digits[5:], hh, mm, ss, text)
        return moment.astimezone(UTC)
    if match := _ROC_SEPARATED.match(cleaned):
        moment = _roc_moment(*match.groups(), text)
        return moment.astimezone(UTC)
    try:
        moment = datetime.fromisoformat(cleaned.replace("Z", "+00:00"))
    except ValueError as exc:
        raise TimeInputError(
            f"{text!r} is not a time: use 2026-12-10 16:00 (Taipei time), an ISO 8601 time "
            "with an offset, or the ROC forms 115/12/10 16:00 or 1151210 1600"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TAIPEI)
    return moment.astimezone(UTC)


_RELATIVE = re.compile(r"\+(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_moment(text: str, now: datetime) -> datetime:
    """A time typed on a command line's ``--at``: what :func:`parse_time` reads, or
    ``+3d`` / ``+2h`` / ``+30m`` from ``now``."""
    if relative := _RELATIVE.fullmatch(text.strip()):
        return now + timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    return parse_time(text)


def parse_day(text: str) -> date:
    """A typed calendar date (ISO ``2026-12-10`` or ROC ``115/12/10``, ``1151210``)."""
    cleaned = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", cleaned):
        try:
            return date.fromisoformat(cleaned)
        except ValueError as exc:
            raise TimeInputError(f"{text!r} is not a real date") from exc
    if _ROC_COMPACT.match(cleaned) or _ROC_SEPARATED.match(cleaned):
        return parse_time(cleaned).astimezone(TAIPEI).date()
    raise TimeInputError(f"{text!r} is not a date: use 2026-12-10 or 115/12/10")


def to_taipei(moment: datetime) -> datetime:
    """The moment on Taipei clocks (a naive moment is taken to be UTC, as stored)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(TAIPEI)


def format_date(day: date, lang: str = "zh") -> str:
    """``115年12月10日`` in Chinese, ``2026-12-10`` in English."""
    if lang == "zh":
        return f"{day.year - ROC_OFFSET}年{day.month}月{day.day}日"
    return day.isoformat()


def format_time(moment: datetime | None, lang: str = "zh", *, seconds: bool = False,
                label: bool = True) -> str:
    """A moment as a person reads it, on Taipei clocks (``—`` when absent).

    ``115年12月10日 16:00 臺北時間`` / ``2026-12-10 16:00 +08:00``; ``seconds`` for audit
    records; ``label=False`` drops the zone label where a column header already says it.
    """
    if moment is None:
        return "—"
    local = to_taipei(moment)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if lang == "zh":
        text = f"{format_date(local.date(), 'zh')} {clock}"
        return f"{text} {LABEL['zh']}" if label else text
    text = f"{local.date().isoformat()} {clock}"
    return f"{text} +08:00" if label else text


def iso(moment: datetime) -> str:
    """Machine form: ISO 8601 in UTC with its offset, to the second."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def day_start(day: date) -> datetime:
    """The UTC moment at which ``day`` begins in Taipei."""
    return datetime.combine(day, time(0), tzinfo=TAIPEI).astimezone(UTC)
