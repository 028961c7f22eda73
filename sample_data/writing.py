"""Turning integer snapshots and events into the contract's files (Parquet or CSV).

Strings are made only here, one chunk of rows at a time: ids from numbers by table
lookup of 4-digit groups, village codes as a dictionary over the code list. Parquet files
carry no Arrow schema blob and no timestamps, so equal data give equal bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

import stats.encodings  # noqa: F401  (registers the euc_tw codec)
from sample_data.events import EVENT_TYPES, NO_DATE, NO_NATIONALITY, NO_SEX, EventBatch
from sample_data.population import Population
from stats.periods import ROC_OFFSET

CHUNK_ROWS = 1 << 20  # rows per Parquet row group and per CSV chunk
ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "cp950": "cp950", "euc-tw": "euc_tw"}
DATE_STYLES = ("iso", "roc", "mixed")
_VILLAGE = pa.dictionary(pa.int16(), pa.string())

RESIDENTS_SCHEMA = pa.schema([
    ("person_id", pa.string()), ("household_id", pa.string()), ("village_code", _VILLAGE),
    ("sex", pa.int8()), ("birth_date", pa.date32()), ("indigenous", pa.int8()),
    ("marital_status", pa.int8()),
])
EVENTS_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("event_type", pa.dictionary(pa.int8(), pa.string())),
    ("registration_date", pa.date32()), ("occurrence_date", pa.date32()),
    ("person_id", pa.string()), ("sex", pa.int8()), ("birth_date", pa.date32()),
    ("village_code", _VILLAGE), ("from_village_code", _VILLAGE),
    ("to_village_code", _VILLAGE), ("partner_sex", pa.int8()),
])
# CONTRACT §8: a v2 extract's files are the v1 ones with these columns after the others
RESIDENTS_SCHEMA_V2 = pa.schema([*RESIDENTS_SCHEMA, ("tribe", pa.int8())])
EVENTS_SCHEMA_V2 = pa.schema([
    *EVENTS_SCHEMA, ("mother_birth_date", pa.date32()), ("mother_nationality", pa.int8()),
    ("nationality", pa.int8()), ("partner_nationality", pa.int8()),
])
DATE_COLUMNS = ("birth_date", "registration_date", "occurrence_date", "mother_birth_date")
_UNIQUE_COLUMNS = ("person_id", "household_id", "event_id")

_DIGITS4 = np.array([f"{i:04d}".encode() for i in range(10_000)], dtype="S4").view(np.uint32)
_LEADING = {k: np.array([f"{i:0{k}d}".encode() for i in range(10**k)], dtype=f"S{k}")
            for k in (1, 2, 3)}


def format_ids(numbers: np.ndarray, prefix: str, digits: int) -> pa.StringArray:
    """``prefix`` followed by each number zero-padded to ``digits`` digits, as Arrow strings."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n, head = len(numbers), prefix.encode("ascii")
    if n and (numbers.min() < 0 or numbers.max() >= 10**digits):
        raise ValueError(f"ids do not fit {digits} digits: {numbers.min()}..{numbers.max()}")
    lead, groups = digits % 4, digits // 4
    names = ["head", "lead"] + [f"g{i}" for i in range(groups)]
    formats = [f"S{len(head)}", f"S{max(lead, 1)}"] + ["u4"] * groups
    offsets = [0, len(head)] + [len(head) + lead + 4 * i for i in range(groups)]
    if not lead:  # no leading group: let it overlap the first 4-digit group, written later
        names, formats, offsets = names[:1] + names[2:], formats[:1] + formats[2:], \
            offsets[:1] + offsets[2:]
    width = len(head) + digits
    record = np.empty(n, dtype=np.dtype(
        {"names": names, "formats": formats, "offsets": offsets, "itemsize": width}
    ))
    record["head"] = head
    rest = numbers
    if groups >= 2:  # the last eight digits in 32-bit arithmetic, which is much faster
        low = (rest % 100_000_000).astype(np.uint32)
        record[f"g{groups - 1}"] = _DIGITS4[low % 10_000]
        record[f"g{groups - 2}"] = _DIGITS4[low // 10_000]
        rest = rest // 100_000_000
        groups -= 2
    for i in reversed(range(groups)):  # four digits at a time, from the right
        record[f"g{i}"] = _DIGITS4[rest % 10_000]
        rest = rest // 10_000
    if lead:
        record["lead"] = _LEADING[lead][rest]
    value_offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(value_offsets), pa.py_buffer(record))


def _dates(days: np.ndarray, empty: np.ndarray | None = None) -> pa.Array:
    """Day numbers as an Arrow date32 column (null where ``empty``)."""
    days = np.ascontiguousarray(days, np.int32)
    if empty is None or not empty.any():
        return pa.Array.from_buffers(pa.date32(), len(days), [None, pa.py_buffer(days)])
    valid = pa.py_buffer(np.packbits(~empty, bitorder="little"))
    return pa.Array.from_buffers(pa.date32(), len(days), [valid, pa.py_buffer(days)])


def _codes(values: np.ndarray, empty: int) -> pa.Array:
    """Small integer codes as an int8 column, null where ``empty``."""
    return pa.array(values, mask=values == empty)


def _villages(index: np.ndarray, codes: pa.Array) -> pa.DictionaryArray:
    """Village indexes (-1 = empty) as dictionary-encoded codes."""
    index = np.asarray(index, dtype=np.int16)
    return pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0), codes)


def residents_chunks(pop: Population, codes: pa.Array, v2: bool = False) -> Iterator[pa.Table]:
    """The snapshot as Arrow tables of at most CHUNK_ROWS rows (at least one table); with
    the §8 ``tribe`` column when ``v2``."""
    schema = RESIDENTS_SCHEMA_V2 if v2 else RESIDENTS_SCHEMA
    for start in range(0, max(len(pop), 1), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        extra = [pa.array(pop.tribe[rows])] if v2 else []
        yield pa.Table.from_arrays([
            format_ids(pop.pid[rows], "P", 10),
            format_ids(pop.hh[rows], "H", 9),
            _villages(pop.village[rows], codes),
            pa.array(pop.sex[rows]),
            _dates(pop.birth[rows]),
            pa.array(pop.indigenous[rows]),
            pa.array(pop.marital[rows]),
            *extra,
        ], schema=schema)


def events_chunks(events: EventBatch, codes: pa.Array, compact_month: str,
                  v2: bool = False) -> Iterator[pa.Table]:
    """The events, in order, with ids ``E<YYYYMM><sequence>``; with the §8 columns when
    ``v2`` (empty where they do not apply)."""
    schema = EVENTS_SCHEMA_V2 if v2 else EVENTS_SCHEMA
    digits = max(6, len(str(len(events))))
    types = pa.array(EVENT_TYPES, type=pa.string())
    for start in range(0, max(len(events), 1), CHUNK_ROWS):
        rows = slice(start, start + CHUNK_ROWS)
        sequence = np.arange(start + 1, start + 1 + len(events.kind[rows]))
        partner = events.partner_sex[rows]
        extra = []
        if v2:
            mother = events.mother_birth[rows]
            extra = [_dates(mother, mother == NO_DATE),
                     *(_codes(getattr(events, name)[rows], NO_NATIONALITY) for name in
                       ("mother_nationality", "nationality", "partner_nationality"))]
        yield pa.Table.from_arrays([
            format_ids(sequence, f"E{compact_month}", digits),
            pa.DictionaryArray.from_arrays(pa.array(events.kind[rows]), types),
            _dates(events.registration[rows]),
            _dates(events.occurrence[rows]),
            format_ids(events.pid[rows], "P", 10),
            pa.array(events.sex[rows]),
            _dates(events.birth[rows]),
            _villages(events.village[rows], codes),
            _villages(events.origin[rows], codes),
            _villages(events.destination[rows], codes),
            pa.array(partner, mask=partner == NO_SEX),
            *extra,
        ], schema=schema)


def write_parquet(path: Path, schema: pa.Schema, chunks: Iterator[pa.Table]) -> int:
    """Write row groups to ``path``; returns the number of rows."""
    rows = 0
    # dictionary pages for codes; plain for ids and dates; no min/max statistics on ids
    dictionary = [name for name in schema.names if name not in _UNIQUE_COLUMNS + DATE_COLUMNS]
    statistics = [name for name in schema.names if name not in _UNIQUE_COLUMNS]
    with pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=dictionary,
                          write_statistics=statistics, store_schema=False) as writer:
        for table in chunks:
            writer.write_table(table, row_group_size=CHUNK_ROWS)
            rows += table.num_rows
    return rows


_YEAR4 = np.array([f"{i:04d}".encode() for i in range(10_000)], dtype="S4")
_MONTH_DASHES = np.array([f"-{i:02d}-".encode() for i in range(13)], dtype="S4")  # "-MM-"
_DAY2 = np.array([f"{i:02d}".encode() for i in range(32)], dtype="S2")
_MMDD = np.array([f"{i:04d}".encode() for i in range(1300)], dtype="S4")
_ISO = np.dtype({"names": ["y", "m", "d"], "formats": ["S4", "S4", "S2"],
                 "offsets": [0, 4, 8], "itemsize": 10})
_ROC = np.dtype({"names": ["y", "md"], "formats": ["S3", "S4"], "offsets": [0, 3],
                 "itemsize": 10})


def _ragged_strings(records: np.ndarray, width: np.ndarray, valid: np.ndarray) -> pa.Array:
    """Row ``i`` of fixed 10-byte records, its first ``width[i]`` bytes, as an Arrow string
    (null where not ``valid``): the strings are cut out of the padded records in one mask."""
    width = np.where(valid, width, 0).astype(np.int32)
    offsets = np.r_[np.int32(0), np.cumsum(width, dtype=np.int32)]
    mask = pa.py_buffer(np.packbits(valid, bitorder="little")) if not valid.all() else None
    if (width == width[0]).all() if len(width) else True:  # one width: no cutting needed
        data = records.view(np.uint8).reshape(-1, 10)[:, : width[0] if len(width) else 0]
    else:
        matrix = records.view(np.uint8).reshape(-1, 10)
        data = matrix[np.arange(10)[None, :] < width[:, None]]
    return pa.StringArray.from_buffers(len(width), pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(data)), mask)


def _date_text(column: pa.ChunkedArray | pa.Array, roc: np.ndarray | bool) -> pa.Array:
    """A date column as text: ROC ``YYYMMDD`` where ``roc`` (and the year is ROC year 1 or
    later), ISO ``YYYY-MM-DD`` elsewhere; built from digit tables, no per-row formatting."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    valid = array.is_valid().to_numpy(zero_copy_only=False)
    days = array.cast(pa.int32()).fill_null(0).to_numpy().astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype(np.int64) // 12 + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    as_roc = np.broadcast_to(np.asarray(roc), year.shape) & (year > ROC_OFFSET)
    records = np.zeros(len(days), dtype=_ISO)
    records["y"], records["m"], records["d"] = _YEAR4[year], _MONTH_DASHES[month], _DAY2[day]
    if as_roc.any():
        roc_records = records.view(_ROC)
        chosen = np.flatnonzero(as_roc)
        roc_year = _LEADING[3][np.clip(year[chosen] - ROC_OFFSET, 0, 999)]
        mmdd = _MMDD[month[chosen] * 100 + day[chosen]]
        roc_records["y"][chosen], roc_records["md"][chosen] = roc_year, mmdd
        records.view(np.uint8).reshape(-1, 10)[chosen, 7:] = 0
    return _ragged_strings(records, np.where(as_roc, 7, 10), valid)


def _csv_table(table: pa.Table, date_style: str, rng: np.random.Generator) -> pa.Table:
    """A chunk with text village codes and dates in the requested style."""
    columns = []
    roc: np.ndarray | bool = date_style == "roc"
    if date_style == "mixed":  # each row its own style, as registers merged over years are
        roc = rng.random(table.num_rows) < 0.5
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_dictionary(column.type):
            column = column.cast(pa.string())
        elif name in DATE_COLUMNS and date_style != "iso":
            column = _date_text(column, roc)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def write_csv(path: Path, chunks: Iterator[pa.Table], encoding: str, date_style: str,
              rng: np.random.Generator) -> int:
    """Write a CSV with a header row in ``encoding``; returns the number of rows.

    Arrow's CSV writer, unquoted: every value is an id, a code, a date or a number, none
    holds a comma, quote or line break.
    """
    codec = ENCODINGS[encoding]
    rows = 0
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as fh:
        if encoding == "utf-8-sig":
            fh.write(b"\xef\xbb\xbf")
        for number, table in enumerate(chunks):
            buffer = io.BytesIO()
            if number == 0:
                buffer.write((",".join(table.column_names) + "\n").encode("ascii"))
            pacsv.write_csv(_csv_table(table, date_style, rng), buffer, options)
            data = buffer.getvalue()
            # ASCII bytes are the same in every offered encoding; anything else goes
            # through the codec (EUC-TW's is iconv, slow on 50 MB chunks)
            if codec != "utf-8" and not data.isascii():
                data = data.decode("utf-8").encode(codec)
            fh.write(data)
            rows += table.num_rows
    return rows
