"""Delivered files over HTTP: ``GET /deliveries/<id>/file``.

* An agency user gets a delivery of their own agency through ``access.deliveries.fetch``
  (ready, not expired, grant still in force; the download is audited): a file transfer as
  its one file, a media package as a zip of the files its manifest lists. Not theirs, or
  not a file delivery: 404; expired: 410; outside the grant now: 403 — each audited.
* Provider staff make files for themselves (deliveries are made to agencies only): the
  builder writes them under ``<outbox>/staff/<id>/`` with a ``meta.json`` naming the owner
  and the expiry (1 day); only the owner can fetch one, and each fetch is audited.

Ids are server-made hex (``secrets.token_hex(16)``); anything else is refused with 404
before the database is touched, and no path is ever built from what the client sent —
only from the id's own folder and the names the server wrote there.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import secrets
import shutil
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from flask import Flask, Response, g, send_file

import exports
from access import audit, deliveries
from access.deliveries import DeliveryError, DeliveryExpired, Forbidden
from access.models import Delivery, User
from access.packages import REQUEST_ERRORS
from access.staff_files import (
    STAFF_RETENTION,
    purge_staff_files,
    staff_record,
    staff_root,
)
from dashboards.web import current_user, services
from exports.meta import ExportMeta

HEX_ID = re.compile(r"[0-9a-f]{32}")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
FILE_CHANNELS = ("file_transfer", "media_exchange")
PACKAGE_EXTRAS = ("manifest.json", "README.txt", "SHA256SUMS")


def file_url(item_id: str) -> str:
    """Where a delivery's (or a staff file's) download is served."""
    return f"/deliveries/{item_id}/file"


def _plain(status: int, zh: str, en: str) -> Response:
    return Response(f"{zh}\n{en}\n", status=status, content_type="text/plain; charset=utf-8")


def _not_found() -> Response:
    return _plain(404, "找不到此檔案。", "No such file.")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refuse(user: User, item_id: str, reason: str, now: datetime) -> None:
    """Audit a refused download (someone else's id, not ready, not a file) and commit."""
    audit.record(g.db, user.username, "download.refused", f"delivery:{item_id}", now,
                 {"reason": reason}, agency_id=user.agency_id)
    g.db.commit()


def _attachment(source: Path | io.BytesIO, name: str, mimetype: str | None = None) -> Response:
    response = send_file(source, as_attachment=True, download_name=name, mimetype=mimetype,
                         max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- agency deliveries -------------------------------------------------------------------

def delivered_file(delivery: Delivery) -> Path | None:
    """The one file of a file transfer: the one in its folder with the recorded SHA-256."""
    folder = Path(delivery.path or "")
    if not delivery.path or not folder.is_dir():
        return None
    return next((p for p in sorted(folder.iterdir())
                 if p.is_file() and SAFE_NAME.fullmatch(p.name) and _sha256(p) == delivery.sha256),
                None)


def package_names(folder: Path) -> list[str]:
    """The files a media package's manifest lists, and the manifest, README and sums."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = [str(f["file"]) for f in manifest["files"]]
    return [n for n in (*listed, *PACKAGE_EXTRAS)
            if SAFE_NAME.fullmatch(n) and (folder / n).is_file()]


def package_zip(delivery: Delivery) -> io.BytesIO | None:
    """A zip of a media package folder, made now (the folder itself stays as delivered)."""
    folder = Path(delivery.path or "")
    if not delivery.path or not (folder / "manifest.json").is_file():
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in package_names(folder):
            archive.write(folder / name, f"{delivery.id}/{name}")
    buffer.seek(0)
    return buffer


def _agency_file(user: User, item_id: str) -> Response:
    now = services().now()
    try:
        delivery = deliveries.status(g.db, user, item_id)
    except DeliveryError:
        _refuse(user, item_id, "no such delivery for this agency", now)
        return _not_found()
    if delivery.channel not in FILE_CHANNELS:
        _refuse(user, item_id, f"{delivery.channel} answers are not files", now)
        return _not_found()
    try:
        deliveries.fetch(g.db, user, item_id, now)
    except DeliveryExpired as error:  # audited by fetch
        return _plain(410, "此交付已逾保存期限並已刪除，請重新申請。", str(error))
    except Forbidden as error:  # audited by authorize
        return _plain(403, "您的授權已不包含此資料。", str(error))
    except DeliveryError as error:
        _refuse(user, item_id, str(error), now)
        return _plain(409, "此交付尚未完成。", str(error))
    source: Path | io.BytesIO | None
    if delivery.channel == "file_transfer":
        source = delivered_file(delivery)
        name = source.name if source is not None else ""
    else:
        source, name = package_zip(delivery), f"popstats_{delivery.id}.zip"
    if source is None:
        g.db.rollback()  # nothing handed over: no download entry
        _refuse(user, item_id, "the delivered file is missing", now)
        return _plain(410, "此交付的檔案已不存在。", "The delivered file no longer exists.")
    g.db.commit()  # the download's audit entry, before the bytes leave
    return _attachment(source, name)


# --- provider staff's own files ----------------------------------------------------------

def save_staff_file(user: User, name: str, frame: pl.DataFrame, meta: ExportMeta, fmt: str,
                    encoding: str, request: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Write a staff member's file under a new server-made id, kept 1 day; audited.

    Raises
    ------
    exports.Unencodable, exports.UnknownFormat
        What ``exports.write`` refuses; nothing is left behind then.
    """
    outbox = services().outbox
    purge_staff_files(g.db, outbox, now)
    g.db.commit()
    item_id = secrets.token_hex(16)
    folder = staff_root(outbox) / item_id
    folder.mkdir(parents=True)
    try:
        exports.write(frame, fmt, folder / name, meta, encoding=encoding)
    except BaseException as error:
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(error, REQUEST_ERRORS):
            audit.record(g.db, user.username, "staff_export.unwritable", "staff_files", now,
                         {**request, "error": str(error)[:2000]})
            g.db.commit()
        raise
    record = {"id": item_id, "user_id": user.id, "username": user.username, "file": name,
              "sha256": _sha256(folder / name), "created_at": now.isoformat(),
              "expires_at": (now + STAFF_RETENTION).isoformat(), **request}
    (folder / "meta.json").write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    audit.record(g.db, user.username, "staff_export.created", f"staff_file:{item_id}", now,
                 {k: record[k] for k in ("file", "sha256", "expires_at", *request)},
                 agency_id=None)
    g.db.commit()
    return record


def _staff_file(user: User, item_id: str) -> Response:
    now = services().now()
    folder = staff_root(services().outbox) / item_id
    record = staff_record(folder)
    if record is None or record.get("user_id") != user.id:
        _refuse(user, item_id, "no such file of this user", now)
        return _not_found()
    if now >= datetime.fromisoformat(record["expires_at"]):
        shutil.rmtree(folder, ignore_errors=True)
        audit.record(g.db, user.username, "download.expired", f"staff_file:{item_id}", now,
                     {"expired_at": record["expires_at"]})
        g.db.commit()
        return _plain(410, "此檔案已逾 1 天保存期限並已刪除。",
                      "This file was kept 1 day and has been deleted; make it again.")
    path = folder / str(record["file"])
    intact = SAFE_NAME.fullmatch(path.name) and path.is_file() and _sha256(path) == record["sha256"]
    if not intact:
        _refuse(user, item_id, "the file is missing or changed", now)
        return _plain(410, "此檔案已不存在。", "The file no longer exists.")
    audit.record(g.db, user.username, "download", f"staff_file:{item_id}", now,
                 {"file": path.name, "sha256": record["sha256"]})
    g.db.commit()
    return _attachment(path, path.name)


# --- the route ---------------------------------------------------------------------------

def delivery_file(item_id: str) -> Response:
    """``GET /deliveries/<id>/file`` (the session guard has already required a login)."""
    if not HEX_ID.fullmatch(item_id):
        return _not_found()  # before the database: ids are server-made hex, nothing else
    user = current_user()
    if user is None:
        return _plain(401, "請先登入。", "Log in first.")
    if user.agency_id is None:
        return _staff_file(user, item_id)
    return _agency_file(user, item_id)


def install_downloads(app: Flask) -> None:
    """Add the download route; ``<path:…>`` so that ``../x`` reaches the hex check too."""
    app.add_url_rule("/deliveries/<path:item_id>/file", "delivery_file", delivery_file,
                     methods=["GET"])
