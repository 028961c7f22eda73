"""Evaluating validation rules over a whole file, fast enough for 23.5 M rows.

A national residents file has ~23 M rows but only a few thousand distinct village codes,
dates and small codes. So a rule that reads one column is evaluated on that column's
*distinct values*; only when some value breaks it is the file scanned again to find the
rows holding that value. Identifier uniqueness is checked by sorting 64-bit hashes (equal
hashes are then confirmed on the strings themselves, so a hash collision cannot raise a
false alarm). Rules that compare columns run row by row; events files are small.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import numpy as np
import polars as pl
import pyarrow as pa

from stats.codes import CodeTable
from stats.periods import Month
from stats.population import repeated_values
from stats.problems import Problem
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS
from stats.schemas import EVENT_V2_COLUMNS, RESIDENT_V2_COLUMNS
from stats.validate import (
    ID_PATTERN,
    ID_RULE,
    Rule,
    blank_free_columns,
    distinct_codes,
    event_rules,
    event_v2_rules,
    file_columns,
    is_v2_file,
    missing_columns,
    resident_rules,
    resident_v2_rules,
    typed_frame,
    wrong_types,
)

MAX_LISTED_ROWS = 50_000  # bad rows listed per file; the counts cover all of them
ID_COLUMNS = {"residents": "person_id", "events": "event_id"}
HIGH_CARDINALITY = {"person_id", "household_id", "event_id"}


def _source_column(rule: Rule) -> str | None:
    """The single raw column a rule reads (of a split rule: its value test), or None when it
    compares several."""
    roots = {name.removeprefix("t_") for name in rule.value_test.meta.root_names()}
    return roots.pop() if len(roots) == 1 else None


def narrow_to_bad_values(
    raw: pl.LazyFrame, rules: list[Rule], columns: dict[str, pl.DataType]
) -> list[Rule]:
    """Single-column rules re-expressed as "the raw value is one of the bad ones" (a split
    rule: "``when``, and the raw value is one of the bad ones").

    Each column's distinct values are checked once; rules that no value breaks vanish.
    """
    by_column: dict[str, list[Rule]] = {}
    for rule in rules:
        by_column.setdefault(_source_column(rule) or "", []).append(rule)
    distinct_q = [raw.select(pl.col(c).unique()) for c in by_column]
    narrowed = []
    for (column, column_rules), values in zip(by_column.items(), pl.collect_all(distinct_q),
                                              strict=True):
        typed = typed_frame(values.lazy(), {column: columns[column]})
        flags = typed.select(
            pl.col(column),
            *[r.value_test.fill_null(False).alias(f"f{i}") for i, r in enumerate(column_rules)]
        ).collect()
        for i, rule in enumerate(column_rules):
            bad = flags.filter(pl.col(f"f{i}"))[column]
            if bad.len() == 0:
                continue
            hit = pl.col(column).is_in(bad.drop_nulls().implode())
            if bad.null_count():
                hit = hit | pl.col(column).is_null()
            if rule.split is not None:
                # when & value_bad is true exactly where when is and the value is a bad one
                hit = rule.split[0] & hit
            narrowed.append(Rule(rule.column, rule.rule, hit))
    return narrowed


def narrow_to_bad_combinations(
    raw: pl.LazyFrame, rules: list[Rule], columns: dict[str, pl.DataType]
) -> list[Rule]:
    """Rules over a few coded columns re-expressed as "the raw values are one of the bad
    combinations": each rule is checked once on its columns' distinct combinations."""
    narrowed = []
    for rule in rules:
        names = sorted({n.removeprefix("t_") for n in rule.bad.meta.root_names()})
        combos = raw.select(names).unique()
        bad = (typed_frame(combos, {n: columns[n] for n in names})
               .filter(rule.bad.fill_null(False)).select(names).collect())
        if bad.height == 0:
            continue
        key = pl.concat_str([pl.col(n).cast(pl.String).fill_null("\x00") for n in names],
                            separator="\x1f")
        wanted = bad.select(key.alias("key"))["key"]
        narrowed.append(Rule(rule.column, rule.rule, key.is_in(wanted.implode())))
    return narrowed


def identifier_checks(
    raw: pl.LazyFrame, file: str, columns: list[str], unique: str
) -> tuple[list[Rule], list[Problem], Counter[tuple[str, str]]]:
    """Missing, malformed and duplicate identifiers, checked on one materialised column at a time.

    Ids are nearly all distinct, so their distinct values are no shortcut; reading each
    column once and testing it in memory beats a row pass. Returns row rules only for
    the checks that found something (the bad values, so the row pass tests membership
    only), and the duplicates already located: each names the row where its id first
    appeared.
    """
    rules: list[Rule] = []
    problems: list[Problem] = []
    counts: Counter[tuple[str, str]] = Counter()
    for column in columns:
        values = raw.select(pl.col(column).cast(pl.String)).collect().to_series()
        missing = values.is_null() | (values.str.len_bytes() == 0)
        text = pl.col(column).cast(pl.String)
        present = values
        if missing.any():
            rules.append(Rule(column, "required value missing",
                              text.is_null() | (text.str.len_bytes() == 0)))
            present = values.filter(~missing)
        if not _bytes_visible_ascii(present):  # rare: only then is each value matched
            malformed = present.filter(~present.str.contains(ID_PATTERN)).unique()
            if malformed.len():
                rules.append(Rule(column, ID_RULE, text.is_in(malformed.implode())))
        if column == unique and (repeated := repeated_values(present)).len() > 0:
            found, n = duplicate_problems(raw, file, column, repeated)
            problems += found
            counts[(file, f"{column}: duplicate {column}")] += n
    return rules, problems, counts


def _bytes_visible_ascii(values: pl.Series) -> bool:
    """Whether every byte of the column's text lies in ``!``…``~`` (0x21–0x7E).

    One min/max over the Arrow data buffer (≈ 0.1 s for 6 M ids), where matching a pattern
    value by value takes several times longer. False only means "look closer": a buffer
    may hold bytes of no value, and an unexpected layout is simply not vouched for.
    """
    array = values.to_arrow()
    for chunk in array.chunks if isinstance(array, pa.ChunkedArray) else [array]:
        if not (pa.types.is_large_string(chunk.type) or pa.types.is_string(chunk.type)):
            return False
        data = chunk.buffers()[2]
        if data is None or data.size == 0:
            continue
        octets = np.frombuffer(data, dtype=np.uint8)
        if octets.min() < 0x21 or octets.max() > 0x7E:
            return False
    return True


def duplicate_problems(raw: pl.LazyFrame, file: str, column: str,
                       repeated: pl.Series) -> tuple[list[Problem], int]:
    """The repeats of duplicated ids (up to the listing cap), each naming the row where the
    id first appeared, and how many repeats there are."""
    rows = (
        raw.select("row", pl.col(column).cast(pl.String))
        .filter(pl.col(column).is_in(repeated.implode()))
        .sort("row")
        .with_columns(pl.col("row").first().over(column).alias("first"))
        .filter(pl.col("row") != pl.col("first"))
        .collect()
    )
    listed = [
        Problem(file, int(row), column, value, f"duplicate {column} (first at row {first})")
        for row, value, first in rows.head(MAX_LISTED_ROWS).iter_rows()
    ]
    return listed, rows.height


def located_problems(
    raw: pl.LazyFrame, file: str, rules: list[Rule], columns: Iterable[str]
) -> tuple[list[Problem], Counter[tuple[str, str]]]:
    """One pass over the rows: the problems (up to a cap) and the count for each rule."""
    if not rules:
        return [], Counter()
    flag_names = [f"__bad{i}" for i in range(len(rules))]
    flags = raw.with_columns(
        [r.bad.fill_null(False).alias(name) for r, name in zip(rules, flag_names, strict=True)]
    )
    counts_q = flags.select([pl.col(f).sum() for f in flag_names])
    rows_q = (
        flags.filter(pl.any_horizontal(flag_names))
        .select("row", *[pl.col(c).cast(pl.String) for c in columns], *flag_names)
        .head(MAX_LISTED_ROWS)
    )
    counts_df, bad_rows = pl.collect_all([counts_q, rows_q])
    counts: Counter[tuple[str, str]] = Counter()
    problems = []
    for rule, name in zip(rules, flag_names, strict=True):
        if n := int(counts_df[name][0] or 0):
            counts[(file, f"{rule.column}: {rule.rule}")] += n
        hits = bad_rows.filter(pl.col(name))
        problems += [
            Problem(file, int(row), rule.column, value, rule.rule)
            for row, value in zip(hits["row"], hits[rule.column], strict=True)
        ]
    return problems, counts


def _nothing_wrong(raw: pl.LazyFrame, rules: list[Rule], columns: dict[str, pl.DataType],
                   fixes: dict[str, dict[str, str]] | None, unique: str,
                   distinct: dict[str, pl.Series] | None = None) -> bool:
    """Whether a file breaks no rule, from one pass over its typed rows and a few small
    queries run with it: each rule as it stands (a split rule's value test — a village
    code's — on its column's distinct values instead, where a value it refuses is enough
    to look closer), and the identifiers' checks (visible ASCII; ``unique`` not repeated).

    For an events file (≈ 180 k rows a national month) this costs a third of narrowing
    the rules and locating the problems, and nearly every file is clean. False only means
    "look closer": the full checks then find and list the problems exactly."""
    by_value = [r for r in rules if r.split is not None]
    by_row = [r for r in rules if r.split is None]
    ids = sorted({r.column for r in rules if _source_column(r) in HIGH_CARDINALITY} | {unique})
    value_columns = sorted({_source_column(r) or "" for r in by_value})
    if distinct is None:  # the village codes' distinct values: the value tests read them
        distinct = distinct_codes(raw, columns)
    row_flag, id_values = pl.collect_all([
        typed_frame(raw, columns, fixes)
        .select(pl.any_horizontal([r.bad.fill_null(False).any() for r in by_row])
                if by_row else pl.lit(False)),
        raw.select(pl.col(c).cast(pl.String) for c in ids)])
    if row_flag.item():
        return False
    for column in value_columns:
        typed = typed_frame(distinct[column].to_frame().lazy(), {column: columns[column]}, fixes)
        tests = [r.value_test.fill_null(False).any() for r in by_value
                 if _source_column(r) == column]
        if typed.select(pl.any_horizontal(tests)).collect().item():
            return False
    for name in ids:
        values = id_values[name]
        present = values.filter(values.is_not_null() & (values.str.len_bytes() > 0))
        if not _bytes_visible_ascii(present):
            return False
        if name == unique and repeated_values(present).len():
            return False
    return True


def find_problems(
    raw: pl.LazyFrame, file: str, kind: str, month: Month, codes: CodeTable,
    fixes: dict[str, dict[str, str]] | None = None,
    distinct: dict[str, pl.Series] | None = None,
) -> tuple[list[Problem], Counter[tuple[str, str]]]:
    """Every problem of one extract file, and the count of each (file, rule).

    ``fixes``: the file's village-code fixes (``validate.code_fixes``), when the caller has
    them — the row pass then types those columns by a lookup of the few codes that differ
    instead of normalising every row (the same typed values); ``distinct``: the file's
    ``validate.distinct_codes``, when the caller has them.
    """
    schema = raw.collect_schema()
    columns = file_columns(kind, schema)  # v1's and the §8 ones present
    required = RESIDENT_COLUMNS if kind == "residents" else EVENT_COLUMNS
    structural = missing_columns(file, schema, required) + wrong_types(file, schema, columns)
    v2 = is_v2_file(kind, schema)
    if v2:  # CONTRACT §8: an extract has all of the optional columns or none
        extra = RESIDENT_V2_COLUMNS if kind == "residents" else EVENT_V2_COLUMNS
        have = [n for n in extra if n in schema]
        structural += [Problem(file, None, name, None,
                               f"column missing: the file has the v2 column(s) {', '.join(have)}, "
                               "and a v2 file has all of " + ", ".join(extra))
                       for name in extra if name not in schema]
    if structural:
        return structural, Counter((p.file, p.rule) for p in structural)
    rules = (resident_rules(month, codes, schema) if kind == "residents"
             else event_rules(month, codes, schema, blank_free_columns(distinct or {})))
    if v2:
        rules += resident_v2_rules(schema) if kind == "residents" else event_v2_rules(schema)
    if kind == "events" and _nothing_wrong(raw, rules, columns, fixes, ID_COLUMNS[kind],
                                           distinct):
        return [], Counter()
    combined = [r for r in rules if r.distinct]
    rules = [r for r in rules if not r.distinct]
    single = [r for r in rules if (_source_column(r) or "") not in ("", *HIGH_CARDINALITY)]
    on_ids = [r for r in rules if _source_column(r) in HIGH_CARDINALITY]
    handled = {id(r) for r in single + on_ids}
    row_rules = [r for r in rules if id(r) not in handled]
    row_rules += narrow_to_bad_values(raw, single, columns)
    row_rules += narrow_to_bad_combinations(raw, combined, columns)
    ids = sorted({r.column for r in on_ids} | {ID_COLUMNS[kind]})
    id_rules, duplicates, counts = identifier_checks(raw, file, ids, ID_COLUMNS[kind])
    row_rules += id_rules
    if not row_rules:
        return duplicates, counts
    found, found_counts = located_problems(typed_frame(raw, columns, fixes), file, row_rules,
                                           columns)
    return duplicates + found, counts + found_counts
