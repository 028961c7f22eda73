"""Reading extract files from disk: locating them, decoding text, scanning into polars.

Everything that touches the file system on the input side lives here. Files come back as
LazyFrames of *raw* columns (strings, or the Parquet file's own types) with a 1-based
``row`` number; typing and validation happen in ``validate.py``.
"""

from __future__ import annotations

import codecs
import csv
import io
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

import stats.encodings  # noqa: F401  (registers the euc_tw codec)
from stats.charsets import reading_codec
from stats.files import find_source, sha256_of  # noqa: F401  (where the extract's files are read)
from stats.periods import Month
from stats.problems import Problem

CHUNK = 16 * 1024 * 1024


def python_encoding(name: str) -> str:
    """The Python codec for an encoding the user declared (``--encoding``; see stats.charsets)."""
    return reading_codec(name)


@dataclass
class SourceFile:
    """One extract file, found on disk, with its checksum once read."""

    kind: str  # "residents" | "events"
    month: Month
    path: Path
    sha256: str = ""
    rows: int = 0
    temp: Path | None = field(default=None, repr=False)  # UTF-8 copy of a non-UTF-8 CSV


class _DecodeRecorder:
    """Codec error handler that records where bytes failed to decode and carries on."""

    def __init__(self) -> None:
        self.base = 0
        self.failures: list[tuple[int, bytes]] = []

    def __call__(self, exc: UnicodeError) -> tuple[str, int]:
        assert isinstance(exc, UnicodeDecodeError)
        start, bad = self.base + exc.start, exc.object[exc.start : exc.end]
        if self.failures and sum(map(len, self.failures[-1][1:])) + self.failures[-1][0] == start:
            # adjacent bad bytes are one bad sequence (one character's worth of garbage)
            self.failures[-1] = (self.failures[-1][0], self.failures[-1][1] + bad)
        else:
            self.failures.append((start, bad))
        return "\ufffd", exc.end


def _line_and_column(raw_path: Path, offset: int) -> tuple[int, int, str]:
    """Line number (1-based), field index and line text at a byte offset of a CSV file."""
    data = raw_path.read_bytes()
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    end = data.find(b"\n", offset)
    before = data[start:offset]
    return line, before.count(b","), data[start : end if end >= 0 else len(data)].decode(
        "latin-1"
    )


def decode_csv(path: Path, encoding: str) -> tuple[Path | None, list[Problem]]:
    """Check that a CSV decodes in ``encoding``; transcode to a UTF-8 temp file if needed.

    Returns the path of a UTF-8 copy (None when the original is already clean UTF-8) and
    a problem for every undecodable byte sequence, located by row and column.
    """
    codec = python_encoding(encoding)
    recorder = _DecodeRecorder()
    handler = f"popstats-record-{id(recorder)}"
    codecs.register_error(handler, recorder)
    decoder = codecs.getincrementaldecoder(codec)(errors=handler)
    out = None
    if codec != "utf-8":
        out = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, kept on disk)
            prefix="popstats-", suffix=".csv", delete=False
        )
    with path.open("rb") as fh:
        first = True
        while chunk := fh.read(CHUNK):
            if first and chunk.startswith(codecs.BOM_UTF8):
                chunk = chunk[3:]
                recorder.base = 3
            text = decoder.decode(chunk)
            recorder.base += len(chunk)
            if out is not None:
                out.write(text.encode("utf-8"))
            first = False
        text = decoder.decode(b"", final=True)
        if out is not None:
            out.write(text.encode("utf-8"))
            out.close()
    problems = []
    if recorder.failures:
        header = path.read_bytes().split(b"\n", 1)[0].decode("latin-1").lstrip("\ufeff")
        names = next(csv.reader(io.StringIO(header)))
        for offset, bad in recorder.failures[:1000]:
            line, col, _ = _line_and_column(path, offset)
            column = names[col] if col < len(names) else f"field {col + 1}"
            problems.append(
                Problem(str(path), line - 1, column, bad.hex(" "), f"bytes not valid {encoding}")
            )
        if len(recorder.failures) > 1000:
            problems.append(
                Problem(str(path), None, None, None,
                        f"{len(recorder.failures) - 1000} more undecodable byte sequences")
            )
    if problems and out is None:
        # polars refuses invalid UTF-8: give it a copy with replacement characters
        out_path = Path(tempfile.mkstemp(prefix="popstats-", suffix=".csv")[1])
        out_path.write_bytes(
            path.read_bytes().decode("utf-8-sig", errors="replace").encode("utf-8")
        )
        return out_path, problems
    return (Path(out.name) if out is not None else None), problems


def ragged_lines(path: Path, encoding: str) -> list[Problem]:
    """Rows with more fields than the header (polars refuses the file; find which rows)."""
    problems = []
    with path.open(encoding=python_encoding(encoding), errors="replace", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        for number, fields in enumerate(reader, start=1):
            if len(fields) > len(header):
                problems.append(
                    Problem(str(path), number, None, ",".join(fields[len(header):]),
                            f"row has {len(fields)} fields, the header {len(header)}")
                )
    return problems


def truncated_tail(path: Path, columns: int) -> Problem | None:
    """A problem when the file's last line is cut short (no newline and too few fields)."""
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read()
    if not tail or tail.endswith(b"\n"):
        return None
    last = tail.rsplit(b"\n", 1)[-1]
    fields = len(next(csv.reader(io.StringIO(last.decode("latin-1"))), []))
    if fields < columns:
        return Problem(str(path), None, None, last.decode("latin-1")[:60],
                       f"file truncated: last line has {fields} of {columns} fields and no newline")
    return None


def scan_source(source: SourceFile, encoding: str) -> tuple[pl.LazyFrame | None, list[Problem]]:
    """Scan an extract file into a LazyFrame of raw columns plus ``row``.

    Returns None and the problems when the file cannot be read at all.
    """
    path = source.path
    if path.suffix == ".parquet":
        try:
            lf = pl.scan_parquet(path)
            lf.collect_schema()
            pl.read_parquet_schema(path)
        except Exception as exc:  # truncated or not Parquet: pyarrow/polars raise many kinds
            return None, [Problem(str(path), None, None, None,
                                  f"not a readable Parquet file (truncated?): {exc}")]
        return lf.with_row_index("row", offset=1), []
    temp, problems = decode_csv(path, encoding)
    source.temp = temp
    readable = temp or path
    try:
        lf = pl.scan_csv(readable, infer_schema=False, encoding="utf8")
        columns = lf.collect_schema().names()
    except Exception as exc:
        return None, [*problems, Problem(str(path), None, None, None, f"not a readable CSV file: {exc}")]
    lf = lf.rename({c: c.lstrip("\ufeff").strip() for c in columns}).with_row_index("row", offset=1)
    if (tail := truncated_tail(path, len(columns))) is not None:
        # the cut line is the file's last row: report it there and check every other row
        last = int(lf.select(pl.len()).collect().item())
        problems.append(replace(tail, row=last))
        lf = lf.filter(pl.col("row") < last)
    return lf, problems


def count_rows(lf: pl.LazyFrame, source: SourceFile, encoding: str) -> list[Problem]:
    """Count the file's rows (for the manifest); a file that cannot even be counted is a problem."""
    try:
        if source.path.suffix == ".csv":
            # parse every field once: ragged rows only show when all columns are read
            lf.select(pl.all().null_count()).collect()
            source.rows = int(lf.select(pl.len()).collect().item())
        else:
            source.rows = int(lf.select(pl.len()).collect().item())
    except Exception as exc:  # polars raises several kinds for unreadable files
        return read_failure(exc, source, encoding)
    return []


def read_failure(exc: Exception, source: SourceFile, encoding: str) -> list[Problem]:
    """Turn a reader's exception into located problems where possible."""
    if "more fields" in str(exc) and source.path.suffix == ".csv":
        found = ragged_lines(source.temp or source.path, "utf-8" if source.temp else encoding)
        if found:
            return [replace(p, file=str(source.path)) for p in found]
    return [Problem(str(source.path), None, None, None, f"file cannot be read: {exc}")]
