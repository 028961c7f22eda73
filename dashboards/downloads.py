"""Delivered files over HTTP: ``GET /deliveries/<id>/file``.

* An agency user gets a delivery of their own agency through ``access.deliveries.fetch``
  (ready, not expired, grant still in force): a file transfer as its one file, a media
  package as a zip of the files its manifest lists. Not theirs, or not a file delivery:
  404; expired: 410; kept past expiry for an undecided extension request: 409; outside the
  grant now: 403 — each audited.
* Provider staff make files for themselves (deliveries are made to agencies only): the
  builder writes them under ``<outbox>/staff/<id>/`` with a ``meta.json`` naming the owner
  and the expiry (1 day); only the owner can fetch one.

A download is audited after the fact, with its outcome: the bytes are read (and their
SHA-256 checked) before the answer starts, the body is handed to the server chunk by chunk,
and when the server closes it the entry is written — ``download`` once every byte went to
the connection, ``download.failed`` with the reason (and the bytes sent) otherwise. Files
are found at absolute places only (``access.deliveries.stored_path``): never against the
server's code folder, which is where a relative path used to send Flask looking.

Ids are server-made hex (``secrets.token_hex(16)``); anything else is refused with 404
before the database is touched, and no path is ever built from what the client sent —
only from the id's own folder and the names the server wrote there.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import mimetypes
import re
import secrets
import shutil
import zipfile
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from flask import Flask, Response, g

import exports
from access import audit, deliveries
from access.deliveries import (
    DeliveryError,
    DeliveryExpired,
    ExtensionPending,
    Forbidden,
    UnplaceablePath,
    stored_path,
)
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
from exports.query import QueryExportError
from stats.outbox import add_to_zip, discard, writing  # the outbox may be s3://bucket/prefix
from stats.store import Place

HEX_ID = re.compile(r"[0-9a-f]{32}")
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")
FILE_CHANNELS = ("file_transfer", "media_exchange")
PACKAGE_EXTRAS = ("manifest.json", "README.txt", "SHA256SUMS")
CHUNK = 64 * 1024
LOG = logging.getLogger(__name__)


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


# An outcome recorder: (sent, bytes sent, error) -> None, called once the server is done.
Outcome = Callable[[bool, int, "str | None"], None]


class AuditedBody:
    """A response body that reports what became of it, once, when the server closes it.

    The WSGI server pulls the chunks and writes each to the connection before pulling the
    next, so the loop runs past its last chunk only after every byte was written; a client
    that went away stops the pulling (or a HEAD request never starts it), and ``close``
    then reports how far it got.
    """

    def __init__(self, data: bytes, outcome: Outcome) -> None:
        self.data, self.outcome = data, outcome
        self.sent, self.complete, self.reported = 0, False, False

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), CHUNK):
            chunk = self.data[start:start + CHUNK]
            yield chunk
            self.sent += len(chunk)
        self.complete = True

    def close(self) -> None:
        if self.reported:
            return
        self.reported = True
        error = None if self.complete else (
            f"the connection ended after {self.sent} of {len(self.data)} bytes")
        try:
            self.outcome(self.complete, self.sent, error)
        except Exception:  # noqa: BLE001 - the server is past answering; say so in its log
            LOG.exception("the outcome of a download could not be audited")


def _attachment(data: bytes, name: str, outcome: Outcome) -> Response:
    """The bytes as a download whose outcome is recorded by ``outcome`` afterwards."""
    mimetype = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = Response(AuditedBody(data, outcome), mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(len(data))
    response.headers.set("Content-Disposition", "attachment", filename=name)  # as send_file
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _recorder(write: Callable[[Any, datetime, bool, int, str | None], None]) -> Outcome:
    """An ``Outcome`` writing its entry in a session of its own at the moment it is known
    (the request's session is closed by then: the body is sent after the request ends)."""
    svc = services()

    def outcome(sent: bool, sent_bytes: int, error: str | None) -> None:
        with svc.sessions() as session:
            write(session, svc.now(), sent, sent_bytes, error)
            session.commit()

    return outcome


# --- agency deliveries -------------------------------------------------------------------

def _place(delivery: Delivery) -> Place | None:
    """The delivery's absolute folder (a legacy relative one under the server's outbox)."""
    try:
        return stored_path(delivery, services().outbox)
    except UnplaceablePath:
        return None


def delivered_file(delivery: Delivery) -> tuple[str, bytes] | None:
    """The one file of a file transfer: the one in its folder with the recorded SHA-256,
    as its name and the bytes read (the bytes checked are the bytes sent)."""
    folder = _place(delivery)
    if folder is None or not folder.is_dir():
        return None
    for path in sorted(folder.iterdir()):
        if path.is_file() and SAFE_NAME.fullmatch(path.name):
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() == delivery.sha256:
                return path.name, data
    return None


def package_names(folder: Place) -> list[str]:
    """The files a media package's manifest lists (tables and their CSVW sidecars), and the
    manifest, README and sums."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = [str(name) for f in manifest["files"] for name in (f["file"], f.get("metadata"))
              if name]
    return [n for n in (*listed, *PACKAGE_EXTRAS)
            if SAFE_NAME.fullmatch(n) and (folder / n).is_file()]


def package_zip(delivery: Delivery) -> bytes | None:
    """A zip of a media package folder, made now (the folder itself stays as delivered)."""
    folder = _place(delivery)
    if folder is None or not (folder / "manifest.json").is_file():
        return None
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in package_names(folder):
            add_to_zip(archive, folder / name, f"{delivery.id}/{name}")
    return buffer.getvalue()


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
    except ExtensionPending as error:
        _refuse(user, item_id, str(error), now)
        return _plain(409, "此交付已屆保存期限，延長申請尚待提供機關決定；核准後可再下載。",
                      str(error))
    except DeliveryError as error:
        _refuse(user, item_id, str(error), now)
        return _plain(409, "此交付尚未完成。", str(error))
    found: tuple[str, bytes] | None
    if delivery.channel == "file_transfer":
        found = delivered_file(delivery)
    else:
        data = package_zip(delivery)
        found = (f"popstats_{delivery.id}.zip", data) if data is not None else None
    if found is None:
        g.db.rollback()
        deliveries.record_download(g.db, user, delivery, now, False, 0, 0,
                                   "the delivered file is missing or changed")
        g.db.commit()
        return _plain(410, "此交付的檔案已不存在。", "The delivered file no longer exists.")
    g.db.commit()
    name, data = found
    user_id, delivery_id = user.id, delivery.id

    def write(session: Any, at: datetime, sent: bool, sent_bytes: int, error: str | None) -> None:
        deliveries.record_download(session, session.get(User, user_id),
                                   session.get(Delivery, delivery_id), at, sent, sent_bytes,
                                   len(data), error)

    return _attachment(data, name, _recorder(write))


# --- provider staff's own files ----------------------------------------------------------

def save_staff_file(user: User, name: str, frame: pl.DataFrame | None, meta: ExportMeta | None,
                    fmt: str, encoding: str, request: dict[str, Any], now: datetime,
                    writer: Callable[[Path], object] | None = None) -> dict[str, Any]:
    """Write a staff member's file under a new server-made id, kept 1 day; audited.
    ``writer`` writes the file at the path it is given in place of ``exports.write`` of
    ``frame`` (the table builder's query results: ``exports.query.write_query``).

    Raises
    ------
    exports.Unencodable, exports.UnknownFormat
        What ``exports.write`` refuses; nothing is left behind then.
    """
    outbox = services().outbox
    purge_staff_files(g.db, outbox, now)
    g.db.commit()
    item_id = secrets.token_hex(16)
    target = staff_root(outbox) / item_id
    with writing(target) as folder:  # in a bucket: staged, put whole with meta.json last
        folder.mkdir(parents=True)
        try:
            if writer is not None:
                writer(folder / name)
            else:
                exports.write(frame, fmt, folder / name, meta, encoding=encoding)
        except BaseException as error:
            shutil.rmtree(folder, ignore_errors=True)
            if isinstance(error, (*REQUEST_ERRORS, QueryExportError)):
                audit.record(g.db, user.username, "staff_export.unwritable", "staff_files", now,
                             {**request, "error": str(error)[:2000]})
                g.db.commit()
            raise
        record = {"id": item_id, "user_id": user.id, "username": user.username, "file": name,
                  "sha256": _sha256(folder / name), "created_at": now.isoformat(),
                  "expires_at": (now + STAFF_RETENTION).isoformat(), **request}
        (folder / "meta.json").write_text(json.dumps(record, ensure_ascii=False),
                                          encoding="utf-8")
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
        discard(folder)
        audit.record(g.db, user.username, "download.expired", f"staff_file:{item_id}", now,
                     {"expired_at": record["expires_at"]})
        g.db.commit()
        return _plain(410, "此檔案已逾 1 天保存期限並已刪除。",
                      "This file was kept 1 day and has been deleted; make it again.")
    path = folder / str(record["file"])
    data = path.read_bytes() if SAFE_NAME.fullmatch(path.name) and path.is_file() else b""
    if hashlib.sha256(data).hexdigest() != record["sha256"]:
        audit.record(g.db, user.username, "download.failed", f"staff_file:{item_id}", now,
                     {"file": path.name, "error": "the file is missing or changed"})
        g.db.commit()
        return _plain(410, "此檔案已不存在。", "The file no longer exists.")
    g.db.commit()
    username, sha256 = user.username, record["sha256"]

    def write(session: Any, at: datetime, sent: bool, sent_bytes: int, error: str | None) -> None:
        details: dict[str, Any] = {"file": path.name, "sha256": sha256, "bytes": len(data)}
        if not sent:
            details |= {"sent_bytes": sent_bytes, "error": error}
        audit.record(session, username, "download" if sent else "download.failed",
                     f"staff_file:{item_id}", at, details)

    return _attachment(data, path.name, _recorder(write))


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
