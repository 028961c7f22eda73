"""A query's result (CONTRACT §7) delivered as a file: the table builder's downloads.

The same channels as a release table (``access.packages``): authorised per channel before
anything is read, recorded as a delivery, audited, kept 7 days, a provider-side failure
kept pending and retried. What differs is what the producer writes: ``run_on_releases``
(the one code path of ``popstats query`` and ``POST /api/v1/query``) on the revision of
each period recorded when the delivery was asked for, limited to the delivery's areas,
written by ``exports.query.write_query``. The delivery's options hold the normalised query
and those revisions, so a retry writes the same table again.

    delivery = deliver_query(session, user, releases, query, ["63000"], "file_transfer",
                             "xlsx", "utf-8", outbox, now)
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import exports
from access import audit
from access.api import revision_folder
from access.deliveries import RETENTION, DeliveryError, authorize, create, produce
from access.grants import providing_code
from access.models import Delivery, User
from access.packages import (
    POWERSHELL_CHECK,
    REQUEST_ERRORS,
    UnwritableRequest,
    file_entry,
    seal_package,
)
from access.query_api import inside, period_span
from exports.naming import export_file_name
from exports.query import QueryExportError, query_meta, write_query, write_query_metadata
from stats.outbox import outbox_place, writing  # the outbox may be s3://bucket/prefix too
from stats.publication import published_revision_dir
from stats.query import Query, parse_query
from stats.query_source import run_on_releases
from stats.release import read_manifest
from stats.store import Place, place  # the releases may be s3://bucket/prefix
from stats.taipei import format_time

QUERY_FORMATS = tuple(f for f in exports.FORMATS if f != "moi")  # moi: a release's layout
WRITE_ERRORS = (*REQUEST_ERRORS, QueryExportError)


def published_revisions(releases: Path, periods: tuple[str, ...], now: datetime
                        ) -> dict[str, int]:
    """The published revision of each period.

    Raises
    ------
    DeliveryError
        Naming every period that is not published now.
    """
    folders = {p: published_revision_dir(releases, p, now) for p in periods}
    if missing := [p for p, f in folders.items() if f is None]:
        raise DeliveryError(f"period(s) {', '.join(missing)} not published")
    return {p: int(read_manifest(f)["revision"]) for p, f in folders.items() if f is not None}


def query_file_name(provider: str, query: Query, revisions: dict[str, int], fmt: str,
                    encoding: str | None) -> str:
    """The export naming convention, the period part ``FIRST_LAST`` for several periods and
    the revision the newest of those read."""
    first, last = query.periods[0], query.periods[-1]
    name = export_file_name(provider, query.table, first, query.area_level,
                            max(revisions.values()), exports.SUFFIX[fmt], encoding)
    return name if first == last else name.replace(f"_{first}_", f"_{first}_{last}_", 1)


def text_encoding(fmt: str, encoding: str) -> str | None:
    """The encoding named in a file name (text formats only)."""
    return encoding if fmt in ("csv", "px", "sdmx-csv") else None


def deliver_query(session: Session, user: User, releases: Path, query: Query,
                  areas: list[str], channel: str, fmt: str, encoding: str, outbox: Place,
                  now: datetime, provider: str | None = None) -> Delivery:
    """Authorise and make a query's file (``file_transfer``) or package (``media_exchange``)
    for ``areas`` (each inside the grant of ``channel``; the result holds only areas inside
    them).

    Raises
    ------
    Forbidden
        Outside the grant (audited by ``authorize``).
    DeliveryError
        A period not published, or a format that cannot hold a query (MOI's layout).
    UnwritableRequest
        The writer's refusal (an unencodable character ...): nothing is recorded but the
        ``delivery.unwritable`` entry.
    """
    if fmt not in QUERY_FORMATS:
        raise DeliveryError(f"a query's result is written as one of {', '.join(QUERY_FORMATS)}")
    exports.writer(fmt, encoding)  # refuse an unknown format/encoding before recording anything
    revisions = published_revisions(releases, query.periods, now)
    authorize(session, user, [query.table], areas, channel, now)  # no data read before this
    if user.agency_id is None:
        raise DeliveryError("deliveries are made to agencies")
    provider = provider or providing_code(session, user, [query.table], areas, channel, now)
    options: dict[str, Any] = {"releases": str(releases), "format": fmt, "encoding": encoding,
                               "outbox": str(outbox), "provider": provider,
                               "query": query.as_json(), "revisions": revisions}
    attempt = session.begin_nested()
    delivery = create(session, user, channel, [query.table], period_span(query.periods),
                      areas, now, options)
    try:
        produce(session, delivery, lambda d: produce_query(d, now), now)
    except UnwritableRequest as error:
        attempt.rollback()
        audit.record(session, user.username, "delivery.unwritable", f"query:{query.table}",
                     now, {"channel": channel, "query": query.as_json(), "areas": areas,
                           "format": fmt, "encoding": encoding, "error": str(error)[:2000]},
                     agency_id=user.agency_id)
        session.commit()
        raise
    attempt.commit()
    return delivery


def produce_query(d: Delivery, now: datetime) -> tuple[str, str]:
    """Write a query delivery from its stored options alone (first try and retries): its
    folder and the SHA-256 of the file (file transfer) or of the package's SHA256SUMS."""
    opts = d.options
    query = parse_query(opts["query"])
    releases = place(opts["releases"])
    folders = {p: revision_folder(releases, p, int(r)) for p, r in opts["revisions"].items()}
    fmt, encoding = opts["format"], opts["encoding"]
    target = outbox_place(opts["outbox"]) / d.id
    with writing(target) as folder:  # in a bucket: staged, then put whole (stats.outbox)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            result = run_on_releases(query, folders, allowed=inside(list(d.areas)))
            meta = query_meta(result, now=now)
            path = folder / query_file_name(opts["provider"], query, result.revisions, fmt,
                                            text_encoding(fmt, encoding))
            write_query(result, fmt, path, encoding=encoding, meta=meta)
            if d.channel == "media_exchange" and fmt in ("csv", "sdmx-csv"):
                write_query_metadata(result, meta, path)
        except WRITE_ERRORS as error:
            shutil.rmtree(folder, ignore_errors=True)  # nothing half-written stays behind
            raise UnwritableRequest(error) from error
        if d.channel == "file_transfer":
            return str(target), _sha256(path)
        return str(target), _package(d, folder, path, now)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


README = """離線媒體交換資料包（查詢結果）/ Offline media exchange package (query result)
=========================================================================

交付編號 Delivery id: {id}
資料表 Table: {table}
統計期及版次 Periods and revisions: {revisions}
地區 Areas: {areas}
交付時間：{created_zh}
保存期限：{expires_zh}
Delivered: {created_en}
Kept until: {expires_en}

【中文】
本資料包為表格建立器之查詢結果（manifest.json 之 query 為完整查詢文件，可貼回表格建立器或
以 POST /api/v1/query 重新查詢）。請驗證各檔案完整性：Linux／macOS 於本資料夾執行
`sha256sum -c SHA256SUMS`；Windows 於本資料夾開啟 PowerShell 執行下列一行，每個檔案應顯示 OK：
{powershell}
提供機關於交付後 7 日刪除本資料包，如需延長請於期限前申請；對資料有疑義者，請於收受後 7 日內
提出。使用後應依管理規範銷毀。時間均為臺北時間（UTC+8）。

[English]
A query result of the table builder (manifest.json's "query" is the whole query document:
paste it into the builder or send it to POST /api/v1/query). Verify every file: on Linux or
macOS run `sha256sum -c SHA256SUMS` in this folder; on Windows open PowerShell in this
folder and run the line above — every file should say OK. The provider deletes this package
7 days after delivery (request an extension before then); raise any doubt about the data
within 7 days of receipt. Destroy the data after use as your management rules require.
Times are Taipei time (UTC+8).
"""


def _package(d: Delivery, folder: Path, path: Path, now: datetime) -> str:
    """manifest.json, README.txt and SHA256SUMS beside the file; the hash of SHA256SUMS."""
    expires = now + RETENTION["media_exchange"]
    manifest = {
        "delivery": d.id, "agency_id": d.agency_id, "period": d.period,
        "revisions": d.options["revisions"], "query": d.options["query"], "areas": d.areas,
        "format": d.options["format"], "encoding": d.options["encoding"],
        "created_at": now.isoformat(), "expires_at": expires.isoformat(),
        "files": [file_entry(path, d.tables[0])],
    }
    readme = README.format(
        id=d.id, table=d.tables[0], areas=", ".join(d.areas),
        revisions=", ".join(f"{p} r{r}" for p, r in d.options["revisions"].items()),
        created_zh=format_time(now, "zh"), created_en=format_time(now, "en"),
        expires_zh=format_time(expires, "zh"), expires_en=format_time(expires, "en"),
        powershell=POWERSHELL_CHECK)
    return seal_package(folder, manifest, readme, [path])


__all__ = ["QUERY_FORMATS", "deliver_query", "produce_query", "published_revisions",
           "query_file_name", "text_encoding"]
