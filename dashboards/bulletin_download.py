"""The statistical bulletin over HTTP: ``GET /releases/<period>/bulletin-<lang>.<fmt>``
(``lang`` zh-TW or en, ``fmt`` pdf or html), linked from the Releases page.

A bulletin is public information once its period is public, so every logged-in user may
have it — agencies and staff alike, with no grant needed — but nobody before: a period with
no public revision is 404 for everyone (an embargo leaks through a bulletin as through a
table), the refusal audited. The newest public revision's bulletin is sent: as kept at its
publication (``exports.bulletin_files``), or made now if it was never kept. Each download
is audited after the fact with its outcome, as delivered files are.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, Response, g

from access import audit
from dashboards.downloads import _attachment, _plain, _recorder
from dashboards.web import current_user, services
from exports.bulletin_files import FORMATS, LANGUAGES, bulletin_bytes
from exports.bulletin_pdf import PdfError
from stats.periods import Period, PeriodError
from stats.publication import published_revision_dir
from stats.release import read_manifest

NAMES = {f"bulletin-{lang}.{fmt}": (lang, fmt) for lang in LANGUAGES for fmt in FORMATS}


def bulletin_url(period: str, lang: str, fmt: str) -> str:
    """The link to a period's bulletin."""
    return f"/releases/{period}/bulletin-{lang}.{fmt}"


def _canonical(period: str) -> str | None:
    try:
        parsed = str(Period.parse(period))
    except PeriodError:
        return None
    return parsed if parsed == period else None


def bulletin_file(period: str, name: str) -> Response:
    """``GET /releases/<period>/<name>`` (the session guard has already required a login)."""
    user = current_user()
    if user is None:
        return _plain(401, "請先登入。", "Log in first.")
    svc = services()
    now = svc.now()
    target = f"bulletin:{period}/{name}"[:120]
    canonical = _canonical(period)
    folder = (published_revision_dir(svc.releases, canonical, now)
              if canonical and name in NAMES else None)
    if folder is None:  # not a bulletin, or not public (yet): the same answer either way
        audit.record(g.db, user.username, "download.refused", target, now,
                     {"reason": "no public bulletin of this name"}, agency_id=user.agency_id)
        g.db.commit()
        return _plain(404, "查無此統計通報（或該期尚未公布）。",
                      "No such bulletin (or the period is not public yet).")
    lang, fmt = NAMES[name]
    revision = int(read_manifest(folder)["revision"])
    try:
        data = bulletin_bytes(svc.releases, folder, lang, fmt, now)
    except PdfError as error:
        audit.record(g.db, user.username, "download.failed", target, now,
                     {"revision": revision, "error": str(error)}, agency_id=user.agency_id)
        g.db.commit()
        return _plain(503, "統計通報 PDF 暫時無法產製，請改下載 HTML 版。",
                      "The bulletin's PDF cannot be made right now; take the HTML one.")
    g.db.commit()
    username, agency_id = user.username, user.agency_id
    sha256 = hashlib.sha256(data).hexdigest()

    def write(session: Any, at: Any, sent: bool, sent_bytes: int, error: str | None) -> None:
        details: dict[str, Any] = {"file": name, "revision": revision, "sha256": sha256,
                                   "bytes": len(data)}
        if not sent:
            details |= {"sent_bytes": sent_bytes, "error": error}
        audit.record(session, username, "download" if sent else "download.failed",
                     f"bulletin:{canonical}", at, details, agency_id=agency_id)

    return _attachment(data, f"{canonical}-{name}", _recorder(write))


def install_bulletins(app: Flask) -> None:
    """Add the bulletin route."""
    app.add_url_rule("/releases/<period>/<name>", "bulletin_file", bulletin_file,
                     methods=["GET"])
