"""A release table → a file in an agency's format and encoding (one code path for the CLI,
the dashboards' downloads and file deliveries).

    frame, meta = load_for_export(release_dir, "population")
    report = write(frame, "xlsx", dest, meta)            # dest: a path or a binary stream

``write`` first makes the text of the table writable in the target encoding (made
characters mapped, unencodable characters refused or handled by the policy: see
``exports.text``); a writer then only lays out the file. Each writer has the signature
``(frame, meta, dest, *, encoding) -> None`` and writes bytes to the binary stream ``dest``.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import BinaryIO, Protocol

import polars as pl

from exports.meta import ExportMeta, load_for_export
from exports.text import ENCODINGS, TextReport, Unencodable, UnknownEncoding, prepare_text

# format -> (module, function, encodings it can be written in)
TEXT = tuple(ENCODINGS)
FORMATS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "csv": ("exports.delimited", "write_csv", TEXT),
    "xlsx": ("exports.spreadsheet", "write_xlsx", ("utf-8",)),
    "ods": ("exports.ods", "write_ods", ("utf-8",)),
    "sav": ("exports.statpackages", "write_sav", ("utf-8",)),
    "dta": ("exports.statpackages", "write_dta", ("utf-8",)),
    "parquet": ("exports.columnar", "write_parquet", ("utf-8",)),
    "netcdf": ("exports.columnar", "write_netcdf", ("utf-8",)),
    "px": ("exports.pcaxis", "write_px", TEXT),
    "jsonstat": ("exports.jsonstat", "write_jsonstat", ("utf-8",)),
    "sdmx-csv": ("exports.sdmx", "write_sdmx_csv", TEXT),
    "moi": ("exports.moi", "write_moi", TEXT),
}
SUFFIX = {"csv": "csv", "xlsx": "xlsx", "ods": "ods", "sav": "sav", "dta": "dta", "parquet": "parquet",
          "netcdf": "nc", "px": "px", "jsonstat": "json", "sdmx-csv": "csv", "moi": "csv"}


class UnknownFormat(ValueError):
    """A format name outside FORMATS, or an encoding the format cannot carry."""


class Writer(Protocol):
    """What every format module provides."""

    def __call__(self, frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *,
                 encoding: str) -> None: ...


def writer(fmt: str, encoding: str) -> Writer:
    """The writer of a format, after checking the encoding suits it.

    Raises
    ------
    UnknownFormat
        For an unknown format or an encoding the format cannot be written in.
    """
    if encoding not in ENCODINGS:
        raise UnknownEncoding(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)} "
                              "(BIG-5E has no implementation anywhere: use cp950 or big5hkscs)")
    if fmt not in FORMATS:
        raise UnknownFormat(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    module, function, encodings = FORMATS[fmt]
    if encoding not in encodings and not (encodings == ("utf-8",) and encoding == "utf-8-sig"):
        raise UnknownFormat(
            f"{fmt} is written in {', '.join(encodings)} only (its own native encoding), "
            f"not {encoding!r}"
        )
    return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]


def write(
    frame: pl.DataFrame,
    fmt: str,
    dest: Path | BinaryIO,
    meta: ExportMeta,
    *,
    encoding: str = "utf-8-sig",
    policy: str = "strict",
    private_use: dict[str, str] | None = None,
) -> TextReport:
    """Write one table in a format and encoding; a path is written atomically.

    Binary formats are written in their own native encoding (Unicode); ``encoding`` then
    only needs to be a Unicode one.

    Raises
    ------
    Unencodable
        Under the strict policy, listing every character the encoding cannot hold.
    UnknownFormat, UnknownEncoding
        For names outside the offered ones.
    """
    write_format = writer(fmt, encoding)
    text_encoding = encoding if len(FORMATS[fmt][2]) > 1 else "utf-8"
    prepared, report = prepare_text(frame, text_encoding, policy, private_use)
    if not isinstance(dest, Path):
        write_format(prepared, meta, dest, encoding=encoding)
        return report
    tmp = dest.with_name(f".{dest.name}.partial")
    try:
        with tmp.open("wb") as fh:
            write_format(prepared, meta, fh, encoding=encoding)
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return report


__all__ = ["FORMATS", "SUFFIX", "ExportMeta", "TextReport", "Unencodable", "UnknownEncoding",
           "UnknownFormat", "load_for_export", "write", "writer"]
