"""File transfer and media exchange deliveries (point 2) built from published releases.

File transfer: one table, in the agency's format and encoding, placed in its outbox under
a server-made id (kept 7 days). Media exchange: an offline package folder holding the
tables, ``manifest.json``, ``SHA256SUMS`` (verifies with ``sha256sum -c``) and a README in
zh-TW and English (kept 7 days). Rows are limited to the granted areas; agencies see only
published revisions.

A delivery may carry a *selection* in its options (the dashboards' table builder makes one):
an area level, the key columns kept (the others are summed over), bands for a key (age in
5-year or broad groups) and the measures. It is stored as plain JSON so the retry command
re-produces exactly the same file from the options alone. A request the export cannot
fulfil (a character the encoding cannot hold, a layout the selection does not fit) is
refused before anything is recorded; only provider-side faults leave a delivery pending.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

import exports
from access import audit
from access.deliveries import (
    RETENTION,
    DeliveryError,
    UnproducibleRequest,
    authorize,
    create,
    produce,
    retry_pending,
)
from access.grants import providing_code
from access.models import NATIONAL, Delivery, User
from exports.columnar import IncompleteGrid
from exports.delimited import metadata_path, write_csv_metadata
from exports.meta import ExportMeta
from exports.naming import export_file_name
from stats.catalogue import VALUE_LABELS, Column, TableSpec, table_spec
from stats.outbox import outbox_place, writing  # the outbox may be s3://bucket/prefix too
from stats.publication import published_revision_dir
from stats.schemas import TABLE_COLUMNS, TABLE_KEYS
from stats.store import Place, place  # the releases may be s3://bucket/prefix
from stats.taipei import format_time

AREA_COLUMNS = ("period", "area_level", "area_code", "area_name")
KEY_COLUMNS = frozenset(k for keys in TABLE_KEYS.values() for k in keys)
SELECTION_FIELDS = frozenset({"level", "keys", "bands", "measures"})
# formats whose fixed layout holds the release's own key values only (MOI's single-age table):
# no bands (px, jsonstat and sdmx-csv code bands in their own code lists)
CODED_FORMATS = ("moi",)
# errors of the request itself: retrying cannot help, so they are refused up front
REQUEST_ERRORS = (exports.Unencodable, exports.UnknownFormat, exports.UnknownEncoding,
                  IncompleteGrid)


class SelectionError(DeliveryError):
    """A row/column selection that does not fit the table."""


class UnwritableRequest(UnproducibleRequest):
    """The export cannot be written as asked (``cause`` is the export's own error)."""

    def __init__(self, cause: Exception) -> None:
        self.cause = cause
        super().__init__(str(cause))


def granted_rows(frame: pl.DataFrame, areas: list[str]) -> pl.DataFrame:
    """The rows whose area lies inside one of ``areas`` (national covers all).

    ``area_covers`` by prefix, as one expression per code length: a code lies inside a
    granted area when its first ``len(area)`` digits are that area's code.
    """
    if NATIONAL in areas:
        return frame
    lengths = sorted({len(a) for a in areas})
    if not lengths:
        return frame.clear()
    code = pl.col("area_code")
    inside = pl.any_horizontal(
        code.str.slice(0, n).is_in([a for a in areas if len(a) == n]) for n in lengths
    )
    return frame.filter(inside)


def measures_of(table: str) -> list[str]:
    """The measure columns of a table (everything but its keys), in release order."""
    spec = table_spec(table)
    return [c for c in TABLE_COLUMNS[table] if c not in spec.keys]


def band_label(low: int, high: int | None) -> str:
    """``0-14``; an open top band reads ``65+``."""
    return f"{low}+" if high is None else f"{low}-{high}"


def check_selection(table: str, selection: dict[str, Any] | None, fmt: str | None = None) -> None:
    """Refuse a selection that names anything the table (or the format) does not have.

    Raises
    ------
    SelectionError
        Unknown fields, level, keys or measures; bands that overlap or are not ascending;
        summing over a dropped key of a table whose measures are not counts; bands in a
        format whose fixed layout knows single values only (moi).
    """
    if selection is None:
        return
    spec = table_spec(table)
    if not isinstance(selection, dict) or set(selection) - SELECTION_FIELDS:
        raise SelectionError(f"a selection has the fields {', '.join(sorted(SELECTION_FIELDS))}")
    level, keys = selection.get("level"), list(selection.get("keys") or [])
    bands, measures = dict(selection.get("bands") or {}), list(selection.get("measures") or [])
    if level is not None and level not in spec.levels:
        raise SelectionError(f"{table} has no level {level!r}; expected one of "
                             f"{', '.join(spec.levels)}")
    if unknown := [k for k in keys if k not in spec.keys]:
        raise SelectionError(f"{table} has no key column(s) {unknown!r}")
    if not measures or (unknown := [m for m in measures if m not in measures_of(table)]):
        raise SelectionError(f"choose measures of {table} among {', '.join(measures_of(table))}")
    for key, ranges in bands.items():
        # bands need an order (age), not codes of categories (sex, marital status)
        if key not in keys or key in VALUE_LABELS or not TABLE_COLUMNS[table][key].is_integer():
            raise SelectionError(f"bands are for kept ordered numeric keys; {key!r} is not one")
        lows = [r[0] for r in ranges]
        highs = [r[1] for r in ranges]
        ordered = all(isinstance(lo, int) for lo in lows) and all(
            isinstance(hi, int) and lo <= hi < nxt
            for lo, hi, nxt in zip(lows, highs, lows[1:], strict=False)
        )
        if not ranges or not ordered or (highs[-1] is not None and highs[-1] < lows[-1]):
            raise SelectionError(f"bands of {key!r} must be ascending, non-overlapping ranges")
    summed = len(keys) < len(spec.keys) or bands
    if summed and not all(TABLE_COLUMNS[table][m].is_integer() for m in measures):
        raise SelectionError(f"only counts can be summed over a dimension; {table} has ratios")
    if bands and fmt in CODED_FORMATS:
        others = ", ".join(f for f in exports.FORMATS if f not in CODED_FORMATS)
        raise SelectionError(f"{fmt} files keep MOI's single-age layout; grouped "
                             f"{', '.join(bands)} cannot be written in it: choose one of {others}")


def _banded(key: str, ranges: list[list[int | None]]) -> pl.Expr:
    """The ``<key>_group`` label of each row's value (values outside every band: null)."""
    expr: Any = pl
    for low, high in ranges:
        inside = pl.col(key) >= low if high is None else pl.col(key).is_between(low, high)
        expr = expr.when(inside).then(pl.lit(band_label(low, high)))  # type: ignore[union-attr]
    return expr.otherwise(None).alias(f"{key}_group")  # type: ignore[no-any-return]


def selected_rows(frame: pl.DataFrame, selection: dict[str, Any] | None) -> pl.DataFrame:
    """The rows and columns a (checked) selection asks for, in the release's row order.

    Dropped key columns are summed over and banded keys grouped; with nothing dropped the
    rows are the release's own.
    """
    if selection is None:
        return frame
    if selection.get("level") is not None:
        frame = frame.filter(pl.col("area_level") == selection["level"])
    keys, bands = list(selection.get("keys") or []), dict(selection.get("bands") or {})
    measures = list(selection["measures"])
    areas = [c for c in AREA_COLUMNS if c in frame.columns]
    if keys == [c for c in frame.columns if c in KEY_COLUMNS] and not bands:
        return frame.select(*areas, *keys, *measures)
    frame = frame.with_columns(_banded(k, r) for k, r in bands.items())
    kept = [f"{k}_group" if k in bands else k for k in keys]
    # first-seen order keeps the release's order: areas, then keys (bands by lower bound)
    return frame.group_by(*areas, *kept, maintain_order=True).agg(pl.col(measures).sum())


def selected_spec(spec: TableSpec, selection: dict[str, Any] | None) -> TableSpec:
    """The catalogue entry narrowed to a selection's columns, for the writers' labels."""
    if selection is None:
        return spec
    bands = dict(selection.get("bands") or {})
    keys: list[Column] = []
    for key in selection.get("keys") or []:
        column = spec.column(key)
        keys.append(dataclasses.replace(
            column, name=f"{key}_group", zh=f"{column.zh}組", en=f"{column.en} group",
        ) if key in bands else column)
    columns = (*(spec.column(c) for c in ("period", "area_level", "area_code")), *keys,
               *(spec.column(m) for m in selection["measures"]))
    levels = (selection["level"],) if selection.get("level") else spec.levels
    return dataclasses.replace(spec, keys=tuple(c.name for c in keys), columns=columns,
                               levels=levels)


def selected(frame: pl.DataFrame, meta: ExportMeta, areas: list[str],
             selection: dict[str, Any] | None) -> tuple[pl.DataFrame, ExportMeta]:
    """A release table (``load_for_export``'s) cut to the granted areas and the selection."""
    rows = selected_rows(granted_rows(frame, areas), selection)
    return rows, dataclasses.replace(meta, spec=selected_spec(meta.spec, selection))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _published(releases: Path, period: str, now: datetime) -> Path:
    folder = published_revision_dir(releases, period, now)
    if folder is None:
        raise DeliveryError(f"period {period!r} is not published")
    return folder


def table_file(
    release: Path,
    table: str,
    areas: list[str],
    fmt: str,
    encoding: str,
    provider: str,
    now: datetime,
    selection: dict[str, Any] | None = None,
) -> tuple[str, pl.DataFrame, ExportMeta]:
    """The file name, rows and metadata of one delivered table (granted areas, selection)."""
    frame, meta = exports.load_for_export(release, table, now)
    rows, meta = selected(frame, meta, areas, selection)
    if fmt in CODED_FORMATS and selection and selection.get("level") == "village":
        # MOI's layouts name each village "county + township": the writer reads those names
        # off the township rows (and writes village rows only), so they go along
        towns = selected_rows(granted_rows(frame, areas), {**selection, "level": "township"})
        rows = pl.concat([towns, rows])
    frame = rows
    level = (selection or {}).get("level") or "all"
    name = export_file_name(
        provider,
        table,
        meta.period,
        level,
        meta.revision,
        exports.SUFFIX[fmt],
        encoding if fmt in ("csv", "px", "sdmx-csv", "moi") else None,
    )
    return name, frame, meta


def _write_table(
    release: Path,
    table: str,
    areas: list[str],
    fmt: str,
    encoding: str,
    folder: Path,
    provider: str,
    now: datetime,
    selection: dict[str, Any] | None = None,
    sidecar: bool = False,
) -> Path:
    """Write one delivered table; with ``sidecar`` a CSV also gets its CSVW description
    (``FILE-metadata.json``: titles, units, notes, checksum), as ``popstats export`` gives."""
    name, frame, meta = table_file(release, table, areas, fmt, encoding, provider, now, selection)
    path = folder / name
    exports.write(frame, fmt, path, meta, encoding=encoding)
    if sidecar and fmt == "csv":
        write_csv_metadata(meta, metadata_path(path), encoding=encoding, schema=dict(frame.schema))
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
    outbox: Place,
    now: datetime,
    provider: str | None = None,
    selection: dict[str, Any] | None = None,
) -> Delivery:
    """Authorise and place one table in the agency's outbox; kept 7 days.

    A provider-side failure leaves the delivery pending for ``retry`` (point 15); a
    ``selection`` (see ``check_selection``) narrows the rows and columns.
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
        selection,
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
    outbox: Place,
    now: datetime,
    provider: str | None = None,
    selection: dict[str, Any] | None = None,
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
        selection,
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
    outbox: Place,
    now: datetime,
    provider: str | None,
    selection: dict[str, Any] | None = None,
) -> Delivery:
    _published(releases, period, now)  # refuse an unpublished period before recording anything
    exports.writer(fmt, encoding)  # refuse an unknown format/encoding before recording anything
    for table in tables:
        check_selection(table, selection, fmt)
    authorize(session, user, tables, areas, channel, now)  # no data is read before this
    if user.agency_id is None:
        raise DeliveryError("deliveries are made to agencies")
    # file names carry the code of the provider whose grant delivers them (point 7)
    provider = provider or providing_code(session, user, tables, areas, channel, now)
    options: dict[str, Any] = {
        "releases": str(releases),
        "format": fmt,
        "encoding": encoding,
        "outbox": str(outbox),
        "provider": provider,
    }
    if selection is not None:
        options["selection"] = selection
    # A request the export cannot fulfil (an unencodable character, ...) leaves no delivery
    # behind: the savepoint takes back the delivery and its audit entries, and only the
    # refusal is kept. The files are written once, by the producer, not tried out first.
    attempt = session.begin_nested()
    delivery = create(session, user, channel, tables, period, areas, now, options)
    try:
        produce(session, delivery, producer(now), now)
    except UnwritableRequest as error:
        attempt.rollback()
        audit.record(session, user.username, "delivery.unwritable", f"tables:{','.join(tables)}",
                     now, {"channel": channel, "period": period, "areas": areas,
                           "format": fmt, "encoding": encoding, "error": str(error)[:2000]},
                     agency_id=user.agency_id)
        session.commit()
        raise
    attempt.commit()
    return delivery


def producer(now: datetime) -> Callable[[Delivery], tuple[str, str]]:
    """What builds a file-transfer or media delivery from its stored request (and only
    from it: a retry re-produces the same rows, columns and format)."""

    def build(d: Delivery) -> tuple[str, str]:
        opts = d.options
        if "query" in opts:  # a query's result (the table builder): access.query_files
            from access.query_files import produce_query

            return produce_query(d, now)
        release = _published(place(opts["releases"]), d.period, now)
        target = outbox_place(opts["outbox"]) / d.id
        # in a bucket: written in a staging folder, put as whole objects once sealed
        with writing(target) as folder:
            folder.mkdir(parents=True, exist_ok=True)
            try:
                files = [
                    _write_table(release, table, d.areas, opts["format"], opts["encoding"],
                                 folder, opts["provider"], now, opts.get("selection"),
                                 sidecar=d.channel == "media_exchange")
                    for table in d.tables
                ]
            except REQUEST_ERRORS as error:
                shutil.rmtree(folder, ignore_errors=True)  # nothing half-written stays behind
                raise UnwritableRequest(error) from error
            if d.channel == "file_transfer":
                return str(target), _sha256(files[0])
            return str(target), _package(d, release, folder, files, now)

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
交付時間：{created_zh}
保存期限：{expires_zh}
Delivered: {created_en}
Kept until: {expires_en}

【中文】
本資料包依「戶役政資訊系統資料連結作業要點」以媒體交換方式提供。請驗證各檔案完整性：
Linux／macOS 於本資料夾執行 `sha256sum -c SHA256SUMS`；Windows 於本資料夾開啟
PowerShell 執行下列一行，每個檔案應顯示 OK：
{powershell}
manifest.json 記載各檔案之資料表、位元組數及 SHA-256；CSV 檔旁之 *-metadata.json 為
CSVW 欄位說明（中英文標題、單位、附註）。提供機關於交付後 7 日刪除本資料包，如需延長
請於期限前申請；對資料有疑義者，請於收受後 7 日內提出。使用後應依管理規範銷毀。
時間均為臺北時間（UTC+8）。

[English]
Provided by media exchange under the household-registration linking guidelines. Verify
every file: on Linux or macOS run `sha256sum -c SHA256SUMS` in this folder; on Windows
open PowerShell in this folder and run the line below — every file should say OK:
{powershell}
manifest.json lists each file's table, size and SHA-256; beside each CSV file its
*-metadata.json is the CSVW description (zh-TW and English titles, units, notes). The
provider deletes this package 7 days after delivery (request an extension before then);
raise any doubt about the data within 7 days of receipt. Destroy the data after use as
your management rules require. Times are Taipei time (UTC+8).
"""
# Windows has no sha256sum: Get-FileHash reads each line of SHA256SUMS ("hash  name");
# PowerShell's -eq ignores case, so the lowercase sums compare with its uppercase hashes.
POWERSHELL_CHECK = (
    "Get-Content SHA256SUMS | ForEach-Object { $h, $f = $_ -split '  ', 2; "
    "if ((Get-FileHash -Algorithm SHA256 -LiteralPath $f).Hash -eq $h) { \"OK  $f\" } "
    "else { \"FAILED  $f\" } }"
)


def file_entry(path: Path, table: str) -> dict[str, Any]:
    """A data file as a package's manifest lists it (with its CSVW sidecar, if any)."""
    sidecar = metadata_path(path)
    return {"file": path.name, "table": table, "sha256": _sha256(path),
            "bytes": path.stat().st_size,
            **({"metadata": sidecar.name} if sidecar.exists() else {})}


def seal_package(folder: Path, manifest: dict[str, Any], readme: str, paths: list[Path]) -> str:
    """Write manifest.json and README.txt beside the data files, then SHA256SUMS over the
    data files, their sidecars and those two; the hash of SHA256SUMS (kept with the
    delivery, so a package changed afterwards is seen)."""
    (folder / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    (folder / "README.txt").write_text(readme, encoding="utf-8")
    sidecars = [metadata_path(p).name for p in paths if metadata_path(p).exists()]
    listed = [*sorted([*(p.name for p in paths), *sidecars]), "manifest.json", "README.txt"]
    sums = "".join(f"{_sha256(folder / name)}  {name}\n" for name in listed)
    (folder / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return hashlib.sha256(sums.encode()).hexdigest()


def _package(d: Delivery, release: Path, folder: Path, paths: list[Path], now: datetime) -> str:
    """manifest.json, README.txt and SHA256SUMS beside the table files; SUMS' hash."""
    revision = json.loads((release / "manifest.json").read_text(encoding="utf-8"))["revision"]
    expires = now + RETENTION["media_exchange"]
    manifest = {
        "delivery": d.id,
        "agency_id": d.agency_id,
        "period": d.period,
        "revision": revision,
        "areas": d.areas,
        "format": d.options["format"],
        "encoding": d.options["encoding"],
        **({"selection": d.options["selection"]} if d.options.get("selection") else {}),
        "created_at": now.isoformat(),
        "expires_at": expires.isoformat(),
        "files": [file_entry(p, t) for p, t in zip(paths, d.tables, strict=True)],
    }
    readme = README.format(
        id=d.id, period=d.period, revision=revision, tables=", ".join(d.tables),
        areas=", ".join(d.areas),
        created_zh=format_time(now, "zh"), created_en=format_time(now, "en"),
        expires_zh=format_time(expires, "zh"), expires_en=format_time(expires, "en"),
        powershell=POWERSHELL_CHECK)
    return seal_package(folder, manifest, readme, paths)
