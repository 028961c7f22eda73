"""Validating and counting a Parquet residents snapshot in one read (the fast path).

A national snapshot is 23 M persons; the general path (``checks.find_problems`` then the
table builders over typed frames) reads it many times. Here the file is read once, in
row groups, and each batch is both checked and counted:

* checks, on the batch as a whole: no nulls; ids non-empty and visible ASCII (one byte
  test over the batch's ids joined; an end snapshot's household ids on each village's
  distinct ones); codes within their lists (min/max); birth dates on or
  before the reference date; village codes exactly one of the codes valid in the month
  (a cast to an Enum of them); for v2, ``tribe`` in its list and 0 exactly for the
  non-indigenous; person ids strictly increasing (or else, at the end, 64-bit hashes all
  distinct — distinct hashes prove distinct ids);
* counts: the three marginals every table reads (village × sex × age, × marital status at
  15 and over, × indigenous status), each batch's added with ``bincount`` into small dense
  arrays (not one village × sex × age × marital × indigenous cube: 18.7 M cells of
  national scattered counts, a cache miss per person); the indigenous by tribe; the
  distinct households of each village.

Anything it does not vouch for — another physical type, a hyphenated code, any value a
rule could refuse, repeated hashes — makes it answer None, and the caller runs the
general path, which lists the problems exactly (or, finding none, counts the general way).
So a file it accepts is one the general rules accept, and its counts are the same.
"""

from __future__ import annotations

import functools
import operator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from stats.codes import LEVELS, CodeTable
from stats.periods import Month
from stats.population import households_summed
from stats.schemas import MAX_AGE, RESIDENT_COLUMNS, TRIBE_CODES
from stats.stocks import AgeCounts, Stock, nonzero_cells

BATCH_ROWS = 1 << 20
SEXES, MARITAL, INDIGENOUS = 2, 4, 3  # values 1–2, 1–4, 0–2
AGE_SLOTS = MAX_AGE + 1
ADULT = 15  # marital status is counted from this age (CONTRACT §3)
INTEGER = ("sex", "indigenous", "marital_status", "tribe")
EPOCH = date(1970, 1, 1)


def _runs(codes: tuple[int, ...]) -> list[tuple[int, int]]:
    """Sorted codes as runs of consecutive ones (first, last)."""
    runs: list[tuple[int, int]] = []
    for code in sorted(codes):
        if runs and code == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return runs


# the tribe codes as runs (0–16, 99): a few comparisons per person, not a set probe
TRIBE_RUNS = _runs(TRIBE_CODES)


def age_thresholds(reference: date) -> np.ndarray:
    """Day numbers t_100 < … < t_1: a person born on day b is at least a years old on
    ``reference`` exactly when b ≤ t_a, the last day of year (reference year − a) whose
    (month, day) is not after the reference's — so 29 February birthdays come on 1 March
    in common years, as in ``population.age_on``."""
    days = []
    for years in range(MAX_AGE, 0, -1):
        year = reference.year - years
        try:
            day = reference.replace(year=year)
        except ValueError:  # 29 February in a common year: its last day not after it
            day = date(year, 2, 28)
        days.append((day - EPOCH).days)
    return np.array(days, dtype=np.int32)


def ages(birth_days: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Completed years (capped at 100) of day numbers of birth on or before the reference."""
    return MAX_AGE - np.searchsorted(thresholds, birth_days, side="left").astype(np.int32)


class AgeTable:
    """``ages`` as a look-up by day number: one gather per person instead of a search."""

    def __init__(self, reference: date) -> None:
        self.last = (reference - EPOCH).days
        thresholds = age_thresholds(reference)
        self.first = int(thresholds[0])  # born on or before this day: 100 and over
        days = np.arange(self.first, self.last + 1, dtype=np.int32)
        self.table = ages(days, thresholds).astype(np.int32)

    def __call__(self, birth_days: np.ndarray) -> np.ndarray:
        return self.table[np.clip(birth_days, self.first, self.last) - self.first]


def village_index(codes: pl.Series, enum: pl.Enum) -> pl.Series:
    """Each row's index among the Enum's codes (null for a code not among them), cast run
    by run: a snapshot lists its persons village by village, so runs are long."""
    runs = codes.rle()
    index = runs.struct.field("value").cast(enum, strict=False).to_physical()
    if index.null_count():
        return pl.Series([None], dtype=index.dtype)
    return pl.Series(np.repeat(index.to_numpy(), runs.struct.field("len").to_numpy()))


def _visible_ascii(values: pl.Series) -> bool:
    """Every id non-empty and every byte of it in ``!``…``~`` (CONTRACT ids, checks.ID_PATTERN):
    one min/max over the bytes of the column as Arrow lays them out end to end (a copy
    polars makes faster than joining the strings), an empty id two equal offsets."""
    array = values.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if not pa.types.is_large_string(array.type) or array.buffers()[2] is None:
        return False  # another layout: not vouched for here
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)
    offsets = offsets[array.offset:array.offset + len(array) + 1]
    if (offsets[1:] == offsets[:-1]).any():
        return False
    octets = np.frombuffer(array.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
    return bool(octets.min() >= 0x21 and octets.max() <= 0x7E)


def _physical_ok(schema: pl.Schema) -> bool:
    """The contract's columns with the plain Parquet types this path reads directly."""
    for name, want in RESIDENT_COLUMNS.items():
        have = schema.get(name)
        if have is None:
            return False
        if want == pl.String and have != pl.String:
            return False
        if want == pl.Date and have != pl.Date:
            return False
        if want.is_integer() and not have.is_integer():
            return False
    return "tribe" not in schema or schema["tribe"].is_integer()


def _in_range(column: pl.Series, low: int, high: int) -> bool:
    return column.min() >= low and column.max() <= high  # type: ignore[operator]


class _Batches:
    """Running state of one file's scan."""

    def __init__(self, villages: list[str], reference: date, households: bool) -> None:
        # an end snapshot is counted in full; a start snapshot only by village × sex × age
        self.end = households
        self.enum = pl.Enum(villages)
        self.ages = AgeTable(reference)
        self.reference_day = (reference - EPOCH).days
        # persons by village × sex (index village * 2 + sex - 1) × age / marital status
        # (slot 0: under 15) / indigenous status
        cells = len(villages) * SEXES
        self.sex_age = np.zeros(cells * AGE_SLOTS, dtype=np.int64)
        self.marital = np.zeros(cells * (MARITAL + 1), dtype=np.int64)
        self.indigenous = np.zeros(cells * INDIGENOUS, dtype=np.int64)
        self.hashes: list[np.ndarray] = []
        self.tribes: list[pl.DataFrame] = []
        # each batch's distinct households per village, made on a thread of their own
        # while the next batch is read (the end snapshot's longest step)
        self.pairs: list[Future[_Listed]] | None = [] if households else None
        self.pairing = ThreadPoolExecutor(max_workers=1) if households else None
        self.increasing = True
        self.last_id: str | None = None
        self.unhashed = 0  # leading rows whose ids were increasing, not hashed
        self.rows = 0

    def add(self, batch: pl.DataFrame, v2: bool) -> bool:
        """Check and count one batch; False when the fast path cannot vouch for it."""
        if batch.height == 0:
            return True
        if any(batch.null_count().row(0)):
            return False
        ids, households = batch["person_id"], batch["household_id"]
        # an end snapshot's household ids are tested on the households thread, on each
        # village's distinct ones (every id is among them, and there are half as many)
        if not _visible_ascii(ids) or (self.pairs is None and not _visible_ascii(households)):
            return False
        village = village_index(batch["village_code"], self.enum)
        if village.null_count():
            return False
        sex, marital, indigenous = batch["sex"], batch["marital_status"], batch["indigenous"]
        if not (_in_range(sex, 1, 2) and _in_range(marital, 1, 4) and _in_range(indigenous, 0, 2)):
            return False
        born = batch["birth_date"].to_physical().to_numpy()
        if born.max() > self.reference_day:
            return False
        if v2:
            tribe = batch["tribe"]
            listed = functools.reduce(operator.or_, ((tribe >= low) & (tribe <= high)
                                                     for low, high in TRIBE_RUNS))
            if not listed.all() or not ((tribe == 0) == (indigenous == 0)).all():
                return False
            if self.end:
                self.tribes.append(
                    batch.select(village.alias("village"), "sex", "tribe")
                    .filter(pl.col("tribe") > 0).group_by("village", "sex", "tribe").len())
        self._ids(ids)
        self._count(village.to_numpy().astype(np.int32) * SEXES + (sex.to_numpy() - 1),
                    self.ages(born), marital.to_numpy(), indigenous.to_numpy())
        if self.pairs is not None and self.pairing is not None:
            if len(self.pairs) >= 2:  # at most two batches' ids waiting: memory stays flat
                self.pairs[-2].result()
            self.pairs.append(self.pairing.submit(_distinct_households, village, households))
        self.rows += batch.height
        return True

    def close(self) -> None:
        """Stop the households thread (at once when the scan was given up)."""
        if self.pairing is not None:
            self.pairing.shutdown(wait=False, cancel_futures=True)

    def _count(self, village_sex: np.ndarray, age: np.ndarray, marital: np.ndarray,
               indigenous: np.ndarray) -> None:
        """Add a batch's persons to the three marginals (a start snapshot's to the first)."""
        self.sex_age += np.bincount(village_sex * AGE_SLOTS + age, minlength=self.sex_age.size)
        if not self.end:
            return
        adult_marital = np.where(age >= ADULT, marital.astype(np.int32), 0)
        self.marital += np.bincount(village_sex * (MARITAL + 1) + adult_marital,
                                    minlength=self.marital.size)
        self.indigenous += np.bincount(village_sex * INDIGENOUS + indigenous,
                                       minlength=self.indigenous.size)

    def _ids(self, ids: pl.Series) -> None:
        """Person ids strictly increasing across the file prove them unique; once they are
        not, their 64-bit hashes are kept (those of the rows before are made at the end)."""
        if self.increasing:
            ordered = ids.len() < 2 or bool((ids.slice(1) > ids.slice(0, ids.len() - 1)).all())
            self.increasing = ordered and (self.last_id is None or ids[0] > self.last_id)
            self.last_id = ids[-1]
            if self.increasing:
                self.unhashed = self.rows + ids.len()
                return
        self.hashes.append(ids.hash(seed=0).to_numpy())

    def households_visible(self) -> bool:
        """Whether every household id listed on the households thread is visible ASCII."""
        return self.pairs is None or all(pairs.result().visible for pairs in self.pairs)

    def ids_unique(self, path: Path) -> bool:
        """Whether every person id is distinct (distinct hashes prove it; equal ones are
        left to the general path, which names the duplicates)."""
        if self.increasing:
            return True
        if self.unhashed:
            before = pl.scan_parquet(path).select("person_id").head(self.unhashed).collect()
            self.hashes.insert(0, before["person_id"].hash(seed=0).to_numpy())
        ordered = np.sort(np.concatenate(self.hashes))
        return not (ordered[1:] == ordered[:-1]).any()


def scan_snapshot(path: Path, month: Month, codes: CodeTable, *, households: bool,
                  batch_rows: int = BATCH_ROWS) -> Stock | None:
    """The stock of a Parquet residents file of ``month`` if the file passes every residents
    rule, read once; None when this path cannot vouch for it (see the module's docstring).

    ``households``: the end snapshot of a period, counted in full; otherwise a start
    snapshot, counted only by village × sex × age — all the tables read from a start — with
    its marital, indigenous and tribe counts empty (every rule is checked all the same)."""
    if path.suffix != ".parquet":
        return None
    try:
        schema = pl.read_parquet_schema(path)
    except Exception:  # unreadable: the general path reports it
        return None
    if not _physical_ok(schema):
        return None
    v2 = "tribe" in schema
    villages = codes.villages_valid_in([month])["village_code"].unique().sort().to_list()
    state = _Batches(villages, month.last_day, households)
    columns = [*RESIDENT_COLUMNS, *(["tribe"] if v2 else [])]
    try:
        for batch in pl.scan_parquet(path).select(columns).collect_batches(chunk_size=batch_rows):
            if not state.add(batch, v2):
                return None
        if state.rows == 0:  # no one: the general path says what it makes of an empty snapshot
            return None
        if not state.ids_unique(path) or not state.households_visible():
            return None
        state.hashes.clear()
        return _stock(state, villages, month, v2)
    except pl.exceptions.PolarsError:
        return None
    finally:
        state.close()


def _stock(state: _Batches, villages: list[str], month: Month, v2: bool) -> Stock:
    names = pl.Series(villages, dtype=pl.String)
    shape = (len(villages), SEXES, -1)
    ages = AgeCounts(names, state.sex_age.reshape(shape))
    marital = nonzero_cells(state.marital.reshape(shape)[..., 1:], names, "marital_status", 1)
    indigenous = nonzero_cells(state.indigenous.reshape(shape)[..., 1:], names, "indigenous", 1)
    tribes = None
    if v2:
        tribes = pl.DataFrame(schema={"village_code": pl.String, "sex": pl.Int8,
                                      "tribe": pl.Int8, "population": pl.Int64})
        if state.tribes:
            summed = (pl.concat(state.tribes).group_by("village", "sex", "tribe")
                      .agg(pl.col("len").sum()))
            tribes = pl.DataFrame({
                "village_code": names.gather(summed["village"].cast(pl.Int64)),
                "sex": summed["sex"].cast(pl.Int8),
                "tribe": summed["tribe"].cast(pl.Int8),
                "population": summed["len"].cast(pl.Int64),
            })
    counted = None
    if state.pairs is not None:
        counted = _households([pairs.result() for pairs in state.pairs], names)
        state.pairs.clear()
    return Stock(month, state.rows, ages, marital, indigenous, tribes, counted)


@dataclass(frozen=True)
class _Listed:
    """One batch's distinct households per village: one row each (village index,
    household_id), their ids' 64-bit hashes, how many each village lists, and whether
    every id is non-empty visible ASCII."""

    flat: pl.DataFrame
    hashes: pl.Series
    per_village: pl.DataFrame
    visible: bool


def _distinct_households(village: pl.Series, households: pl.Series) -> _Listed:
    """``_Listed`` of one batch (made on the households thread, off the scan's path)."""
    flat = (pl.DataFrame({"village": village, "household_id": households})
            .group_by("village").agg(pl.col("household_id").unique())
            .explode("household_id"))
    return _Listed(flat, flat["household_id"].hash(seed=0), flat.group_by("village").len(),
                   _visible_ascii(flat["household_id"]))


def _households(batches: list[_Listed], names: pl.Series) -> pl.DataFrame:
    """Distinct households at every level from each batch's distinct households per
    village. A village's persons are spread over many batches (a register lists them by
    person id), but a household's almost always fall in one: so a village's count is how
    many its batches list, less the households listed more than once in it. Those, and the
    households met in two villages, are found among the ids listed more than once overall
    — by sorting 64-bit hashes of the ids (9.6 M national), then confirmed on the strings,
    so a hash collision cannot change a count."""
    listed = (pl.concat([b.per_village for b in batches]).group_by("village")
              .agg(pl.col("len").sum().cast(pl.Int64).alias("households")))
    flat = pl.concat([b.flat for b in batches])
    hashes = pl.concat([b.hashes for b in batches])
    ordered = np.sort(hashes.to_numpy())  # numpy's vectorised sort: a third of polars' CPU here
    # the hashes met again (a hash met k times is here k - 1 times: harmless to ``is_in``,
    # where making them unique costs more than the look-up)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    seen_again = flat.filter(hashes.is_in(pl.Series(repeated).implode()))
    twice = seen_again.group_by("village").agg(
        (pl.len() - pl.col("household_id").n_unique()).cast(pl.Int64).alias("twice"))
    per_village = listed.join(twice, on="village", how="left").select(
        "village", pl.col("households") - pl.col("twice").fill_null(0))

    def named(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(names.gather(frame["village"].cast(pl.Int64))
                                  .alias("village_code")).drop("village")

    # households_summed takes the households of more than one village (or any more): only
    # those, not the many a village lists twice (0.3 M pairs national, 0.25 s to roll up)
    pairs = seen_again.unique()
    spread = pairs.filter(pairs["household_id"].is_duplicated())
    return households_summed(named(per_village).lazy(), named(spread), list(LEVELS))
