"""File transfer and media exchange deliveries (point 2) built from published releases.

File transfer: one table, in the agency's format and encoding, placed in its outbox under
a server-made id (kept 7 days). Media exchange: an offline package folder holding the
tables, ``manifest.json``, ``SHA256SUMS`` (verifies with ``sha256sum -c``) and a README in
zh-TW and English (kept 7 days). Rows are limited to the granted areas; agencies see only
published revisions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import polars as pl
from sqlalchemy.orm import Session

import exports
from access.deliveries import RETENTION, DeliveryError, create, produce, retry_pending
from access.models import Delivery, User
from access.permissions import area_covers
from exports.naming import export_file_name
from stats.publication import published_revision_dir


def granted_rows(frame: pl.DataFrame, areas: list[str]) -> pl.DataFrame:
    """The rows whose area lies inside one of ``areas`` (national covers all)."""
    codes = frame.get_column("area_code").to_list()
    keep = [any(area_covers(a, code) for a in areas) for code in codes]
    return frame.filter(pl.Series(keep, dtype=pl.Boolean))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _published(releases: Path, period: str, now: datetime) -> Path:
    folder = published_revision_dir(releases, period, now)
    if folder is None:
        raise DeliveryError(f"period {period!r} is not published")
    return folder


def _write_table(
    release: Path,
    table: str,
    areas: list[str],
    fmt: str,
    encoding: str,
    folder: Path,
    provider: str,
    now: datetime,
) -> Path:
    frame, meta = exports.load_for_export(release, table, now)
    name = export_file_name(
        provider,
        table,
        meta.period,
        "all",
        meta.revision,
        exports.SUFFIX[fmt],
        encoding if fmt in ("csv", "px", "sdmx-csv", "moi") else None,
    )
    path = folder / name
    exports.write(granted_rows(frame, areas), fmt, path, meta, encoding=encoding)
    return path


def deliver_file(
    session: Session,
    user: User,
    releases: Path,
    period: str,
    table: str,
    areas: list[str],
    fmt: str,
    encoding: str,
    outbox: Path,
    now: datetime,
    provider: str = "MOI",
) -> Delivery:
    """Authorise and place one table in the agency's outbox; kept 7 days.

    A provider-side failure leaves the delivery pending for ``retry`` (point 15).
    """
    return _deliver(
        session,
        user,
        "file_transfer",
        releases,
        period,
        [table],
        areas,
        fmt,
        encoding,
        outbox,
        now,
        provider,
    )


def deliver_media(
    session: Session,
    user: User,
    releases: Path,
    period: str,
    tables: list[str],
    areas: list[str],
    fmt: str,
    encoding: str,
    outbox: Path,
    now: datetime,
    provider: str = "MOI",
) -> Delivery:
    """Authorise and build an offline package of ``tables``; kept 7 days."""
    return _deliver(
        session,
        user,
        "media_exchange",
        releases,
        period,
        tables,
        areas,
        fmt,
        encoding,
        outbox,
        now,
        provider,
    )


def _deliver(
    session: Session,
    user: User,
    channel: str,
    releases: Path,
    period: str,
    tables: list[str],
    areas: list[str],
    fmt: str,
    encoding: str,
    outbox: Path,
    now: datetime,
    provider: str,
) -> Delivery:
    _published(releases, period, now)
    exports.writer(fmt, encoding)  # refuse an unknown format/encoding before recording anything
    options = {
        "releases": str(releases),
        "format": fmt,
        "encoding": encoding,
        "outbox": str(outbox),
        "provider": provider,
    }
    delivery = create(session, user, channel, tables, period, areas, now, options)
    produce(session, delivery, producer(now), now)
    return delivery


def producer(now: datetime) -> Callable[[Delivery], tuple[str, str]]:
    """What builds a file-transfer or media delivery from its stored request."""

    def build(d: Delivery) -> tuple[str, str]:
        opts = d.options
        release = _published(Path(opts["releases"]), d.period, now)
        folder = Path(opts["outbox"]) / d.id
        folder.mkdir(parents=True, exist_ok=True)
        files = [
            _write_table(
                release,
                table,
                d.areas,
                opts["format"],
                opts["encoding"],
                folder,
                opts["provider"],
                now,
            )
            for table in d.tables
        ]
        if d.channel == "file_transfer":
            return str(folder), _sha256(files[0])
        return str(folder), _package(d, release, folder, files, now)

    return build


def retry(session: Session, now: datetime) -> list[Delivery]:
    """Retry every pending file-transfer and media delivery (point 15)."""
    return retry_pending(session, producer(now), now)


README = """離線媒體交換資料包 / Offline media exchange package
===================================================

交付編號 Delivery id: {id}
統計期 Period: {period}（第 {revision} 版 revision {revision}）
資料表 Tables: {tables}
地區 Areas: {areas}
保存期限 Kept until: {expires}

【中文】
本資料包依「戶役政資訊系統資料連結作業要點」以媒體交換方式提供。請以
`sha256sum -c SHA256SUMS` 驗證各檔案完整性；manifest.json 記載各檔案之資料表、
位元組數及 SHA-256。提供機關於交付後 7 日刪除本資料包，如需延長請於期限前申請；
對資料有疑義者，請於收受後 7 日內提出。使用後應依管理規範銷毀。

[English]
Provided by media exchange under the household-registration linking guidelines. Verify
every file with `sha256sum -c SHA256SUMS`; manifest.json lists each file's table, size
and SHA-256. The provider deletes this package 7 days after delivery (request an
extension before then); raise any doubt about the data within 7 days of receipt. Destroy
the data after use as your management rules require.
"""


def _package(d: Delivery, release: Path, folder: Path, paths: list[Path], now: datetime) -> str:
    """Write manifest.json, README.txt and SHA256SUMS beside the table files; SUMS' hash."""
    files = [
        {"file": p.name, "table": t, "sha256": _sha256(p), "bytes": p.stat().st_size}
        for p, t in zip(paths, d.tables, strict=True)
    ]
    revision = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["revision"]
    expires = (now + RETENTION["media_exchange"]).isoformat()
    manifest = {
        "delivery": d.id,
        "agency_id": d.agency_id,
        "period": d.period,
        "revision": revision,
        "areas": d.areas,
        "format": d.options["format"],
        "encoding": d.options["encoding"],
        "created_at": now.isoformat(),
        "expires_at": expires,
        "files": files,
    }
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (folder / "README.txt").write_text(
        README.format(
            id=d.id,
            period=d.period,
            revision=revision,
            tables=", ".join(d.tables),
            areas=", ".join(d.areas),
            expires=expires,
        ),
        encoding="utf-8",
    )
    listed = [*sorted(p.name for p in paths), "manifest.json", "README.txt"]
    sums = "".join(f"{_sha256(folder / name)}  {name}\n" for name in listed)
    (folder / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return hashlib.sha256(sums.encode()).hexdigest()
