"""Typing and validating extract files (CONTRACT §1): every problem collected, raised once.

A raw frame (strings from CSV, or Parquet's own types) becomes a typed frame through
``parse_*`` expressions; each rule is a boolean "bad" expression over raw and typed columns.
``checks.py`` evaluates the rules efficiently and turns bad rows into ``Problem`` records.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import polars as pl

from stats.codes import CodeTable, normalise_village_code
from stats.periods import ROC_OFFSET, Month
from stats.problems import Problem
from stats.schemas import (
    EVENT_COLUMNS,
    EVENT_TYPES,
    EVENT_V2_COLUMNS,
    NATIONALITIES,
    RESIDENT_COLUMNS,
    RESIDENT_V2_COLUMNS,
    TRIBE_CODES,
)

# What each coded column's values mean (CONTRACT §1), named in the problem when one is wrong.
CODE_MEANINGS: dict[str, dict[int, str]] = {
    "sex": {1: "male", 2: "female"},
    "partner_sex": {1: "male", 2: "female"},
    "indigenous": {0: "not indigenous", 1: "lowland", 2: "highland"},
    "marital_status": {1: "never married", 2: "married", 3: "divorced", 4: "widowed"},
}
# CONTRACT §8 code lists: named by range in problems (the lists are long)
CODE_RANGES: dict[str, str] = {
    "tribe": "0 (not indigenous), 1 to 16 (the peoples) or 99 (not declared)",
    "nationality": "0 (unknown), 1 to 11 or 98 (other)",
}


def file_columns(kind: str, schema: pl.Schema | dict) -> dict[str, pl.DataType]:
    """The contract's columns of a file: v1's, and the §8 (v2) ones the file has."""
    base, extra = ((RESIDENT_COLUMNS, RESIDENT_V2_COLUMNS) if kind == "residents"
                   else (EVENT_COLUMNS, EVENT_V2_COLUMNS))
    return {**base, **{name: dtype for name, dtype in extra.items() if name in schema}}


def is_v2_file(kind: str, schema: pl.Schema | dict) -> bool:
    """Whether a file carries any §8 column (it must then carry all of them)."""
    extra = RESIDENT_V2_COLUMNS if kind == "residents" else EVENT_V2_COLUMNS
    return any(name in schema for name in extra)

_ISO = r"^\d{4}-\d{2}-\d{2}$"
_ROC = r"^\d{7}$"


def parse_date(name: str, dtype: pl.DataType) -> pl.Expr:
    """A date column from a DATE column or ISO ``YYYY-MM-DD`` / ROC ``YYYMMDD`` strings."""
    col = pl.col(name)
    if dtype == pl.Date:
        return col
    if isinstance(dtype, pl.Datetime):
        return col.dt.date()
    text = col.cast(pl.String).str.strip_chars()
    roc_as_iso = pl.format(
        "{}-{}-{}",
        (text.str.slice(0, 3).cast(pl.Int32, strict=False) + ROC_OFFSET).cast(pl.String),
        text.str.slice(3, 2),
        text.str.slice(5, 2),
    )
    iso = (
        pl.when(text.str.contains(_ISO))
        .then(text)
        .when(text.str.contains(_ROC))
        .then(roc_as_iso)
    )
    return iso.str.strptime(pl.Date, "%Y-%m-%d", strict=False)


def parse_int(name: str, dtype: pl.DataType) -> pl.Expr:
    """An integer column from integers or their decimal text."""
    col = pl.col(name)
    if dtype.is_integer():
        return col.cast(pl.Int64)
    return col.cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)


def parse_text(name: str) -> pl.Expr:
    """A string column, stripped; empty means missing."""
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_chars() > 0).then(text)


def parse_id(name: str) -> pl.Expr:
    """An identifier, taken as it is (ids are opaque); empty means missing."""
    text = pl.col(name).cast(pl.String)
    return pl.when(text.str.len_bytes() > 0).then(text)


def raw_present(name: str, schema: pl.Schema | dict | None = None,
                blank_free: Collection[str] = ()) -> pl.Expr:
    """The raw field holds something (not null, not blank).

    With the file's ``schema``: a date or integer column (Parquet) cannot hold a blank
    value, so "present" is "not null" — the same answer without writing every value out
    as text (a national events file has seven such columns tested this way). The same for
    a text column in ``blank_free``: one whose distinct values the caller has seen hold
    no blank one (``blank_free_columns``).
    """
    if name in blank_free:
        return pl.col(name).is_not_null()
    dtype = (schema or {}).get(name)
    if dtype is not None and (dtype == pl.Date or isinstance(dtype, pl.Datetime)
                              or dtype.is_integer()):
        return pl.col(name).is_not_null()
    return pl.col(name).cast(pl.String).str.strip_chars().str.len_chars().fill_null(0) > 0


ID_COLUMNS = ("person_id", "household_id", "event_id")
# Identifiers are keys that join files together: visible ASCII only (``!`` to ``~``, 0x21–0x7E:
# letters, digits and punctuation), so a NUL byte, a space, a control or private-use character
# — invisible or lost in another program — can never make two keys that look equal differ.
ID_PATTERN = r"^[!-~]+$"
ID_RULE = "not a valid identifier: only visible ASCII characters ! to ~ (letters, digits, punctuation)"


def typed_frame(
    raw: pl.LazyFrame,
    columns: dict[str, pl.DataType],
    code_fixes: dict[str, dict[str, str]] | None = None,
) -> pl.LazyFrame:
    """Typed columns (``t_<name>``) next to the raw ones, per the contract's schema.

    ``code_fixes`` maps raw village codes to their normal form per column (from
    ``code_fixes()``); with it, a column whose codes are all clean is used as it is instead
    of being normalised row by row — a large saving on national snapshots.
    """
    schema = raw.collect_schema()
    exprs = []
    for name, dtype in columns.items():
        if name not in schema:
            continue
        if dtype == pl.Date:
            expr = parse_date(name, schema[name])
        elif dtype.is_integer():
            expr = parse_int(name, schema[name])
        elif "village_code" in name and code_fixes is not None and name in code_fixes:
            fixes = code_fixes[name]
            expr = pl.col(name).cast(pl.String)
            expr = expr.replace(fixes) if fixes else expr
        elif "village_code" in name:
            expr = normalise_village_code(parse_text(name))
        elif name in ID_COLUMNS:
            expr = parse_id(name)
        else:
            expr = parse_text(name)
        exprs.append(expr.alias(f"t_{name}"))
    return raw.with_columns(exprs)


def distinct_codes(raw: pl.LazyFrame, columns: dict[str, pl.DataType]) -> dict[str, pl.Series]:
    """Each village-code column's distinct raw values, as text."""
    names = [c for c in columns if "village_code" in c and c in raw.collect_schema()]
    distinct = pl.collect_all([raw.select(pl.col(c).cast(pl.String).unique()) for c in names])
    return {name: values.to_series() for name, values in zip(names, distinct, strict=True)}


def code_fixes(raw: pl.LazyFrame, columns: dict[str, pl.DataType],
               distinct: dict[str, pl.Series] | None = None) -> dict[str, dict[str, str]]:
    """For each village-code column, the raw values whose normal form differs from them
    (``distinct``: the columns' ``distinct_codes``, when already made)."""
    if distinct is None:
        distinct = distinct_codes(raw, columns)
    fixes = {}
    for name, values in distinct.items():
        normal = values.to_frame().select(
            pl.col(name), normalise_village_code(parse_text(name)).alias("normal")
        ).filter(pl.col(name).is_not_null() & pl.col("normal").ne_missing(pl.col(name)))
        fixes[name] = dict(zip(normal[name], normal["normal"], strict=True))
    return fixes


@dataclass(frozen=True)
class Rule:
    """A named check: ``bad`` is true on rows that break it, reported on ``column``.

    ``distinct``: the rule reads several columns that together take few distinct values
    (codes), so it is checked on their distinct combinations, not row by row.

    ``split``: ``(when, value_bad)`` with ``bad`` = ``when & value_bad``, where ``value_bad``
    reads one column only (a village code, checked only on some event types): the value
    test can then be made on that column's distinct values, ``when`` on the rows.
    """

    column: str
    rule: str
    bad: pl.Expr
    distinct: bool = False
    split: tuple[pl.Expr, pl.Expr] | None = None

    @property
    def value_test(self) -> pl.Expr:
        """What the rule tests of the values: ``bad``, or of a split rule ``value_bad``."""
        return self.bad if self.split is None else self.split[1]


def _t(name: str) -> pl.Expr:
    return pl.col(f"t_{name}")


def _required(name: str, schema: pl.Schema | dict | None = None) -> Rule:
    if name in ID_COLUMNS:  # cheap test on millions of distinct ids
        text = pl.col(name).cast(pl.String)
        return Rule(name, "required value missing", text.is_null() | (text.str.len_bytes() == 0))
    return Rule(name, "required value missing", ~raw_present(name, schema))


def _malformed(name: str, what: str, schema: pl.Schema | dict | None = None) -> Rule:
    return Rule(name, f"not a valid {what}", raw_present(name, schema) & _t(name).is_null())


def allowed_text(allowed: tuple[int | str, ...], meanings: dict[int, str] | None = None) -> str:
    """``must be 1 or 2 (1 male, 2 female)``: the allowed values, and what they mean."""
    values = [str(a) for a in allowed]
    listed = values[0] if len(values) == 1 else f"{', '.join(values[:-1])} or {values[-1]}"
    if meanings:
        listed += f" ({', '.join(f'{a} {meanings[a]}' for a in allowed)})"  # type: ignore[index]
    return f"must be {listed}"


def _one_of(name: str, allowed: tuple[int, ...], when: pl.Expr | None = None,
            listed: str | None = None, schema: pl.Schema | dict | None = None) -> list[Rule]:
    """A coded column: one rule naming the allowed values, whatever the wrong value is
    (``M``, ``3``, ``1.5``)."""
    present = raw_present(name, schema) if when is None else raw_present(name, schema) & when
    rule = f"must be {listed}" if listed else allowed_text(allowed, CODE_MEANINGS.get(name))
    return [Rule(name, rule, present & (_t(name).is_null() | ~_t(name).is_in(allowed)))]


def _code_rules(name: str, month: Month, codes: CodeTable, when: pl.Expr) -> list[Rule]:
    valid = codes.villages_valid_in([month])["village_code"].implode()
    known = codes.villages["village_code"].implode()
    code = _t(name)
    shape_ok = code.str.contains(r"^\d{11}$")
    value_rules = [
        ("not an 11-digit village code", code.is_not_null() & ~shape_ok),
        ("unknown village code", shape_ok & ~code.is_in(known)),
        (f"village code not valid in {month}", shape_ok & code.is_in(known) & ~code.is_in(valid)),
    ]
    return [Rule(name, text, when & value_bad, split=(when, value_bad))
            for text, value_bad in value_rules]


def resident_rules(month: Month, codes: CodeTable, schema: pl.Schema | dict | None = None) -> list[Rule]:
    """Rules for a residents file of ``month`` (its reference date is the month's last day);
    with the file's ``schema``, presence is tested the cheapest way its types allow."""
    ref = month.last_day
    rules = [_required(c, schema) for c in RESIDENT_COLUMNS]
    rules += [
        _malformed("birth_date", "date (YYYY-MM-DD or ROC YYYMMDD)", schema),
        Rule("birth_date", f"born after the reference date {ref}", _t("birth_date") > pl.lit(ref)),
        *_one_of("sex", (1, 2), schema=schema),
        *_one_of("indigenous", (0, 1, 2), schema=schema),
        *_one_of("marital_status", (1, 2, 3, 4), schema=schema),
        *_code_rules("village_code", month, codes, pl.lit(True)),
    ]
    return rules


def resident_v2_rules(schema: pl.Schema | dict | None = None) -> list[Rule]:
    """CONTRACT §8 rules for a residents file with ``tribe``."""
    tribe, indigenous = _t("tribe"), _t("indigenous")
    valid = tribe.is_in(TRIBE_CODES) & indigenous.is_in([0, 1, 2])
    return [
        _required("tribe", schema),
        *_one_of("tribe", TRIBE_CODES, listed=CODE_RANGES["tribe"], schema=schema),
        Rule("tribe", "tribe must be 0 exactly when indigenous is 0",
             valid & ((tribe == 0) != (indigenous == 0)), distinct=True),
    ]


def _applies_only(name: str, applies: pl.Expr, kinds: str, required: bool,
                  schema: pl.Schema | dict | None = None) -> list[Rule]:
    """A §8 event column: required (0 when unknown) on ``kinds``, empty on every other."""
    present = raw_present(name, schema)
    rules = [Rule(name, f"must be empty except on {kinds}", ~applies & present)]
    if required:
        rules.append(Rule(name, f"required for {kinds} (0 when unknown)",
                          applies & ~present))
    return rules


def event_v2_rules(schema: pl.Schema | dict | None = None) -> list[Rule]:
    """CONTRACT §8 rules for an events file with the mother's and the spouses' columns."""
    kind = _t("event_type")
    is_birth, is_marriage = kind == "BIRTH", kind == "MARRIAGE"
    listed = CODE_RANGES["nationality"]
    return [
        _malformed("mother_birth_date", "date (YYYY-MM-DD or ROC YYYMMDD)", schema),
        *_applies_only("mother_birth_date", is_birth, "BIRTH", required=False, schema=schema),
        Rule("mother_birth_date", "mother born after the child",
             is_birth & (_t("mother_birth_date") > _t("birth_date"))),
        *_applies_only("mother_nationality", is_birth, "BIRTH", required=True, schema=schema),
        *_one_of("mother_nationality", NATIONALITIES, when=is_birth, listed=listed,
                 schema=schema),
        *(rule for name in ("nationality", "partner_nationality") for rule in (
            *_applies_only(name, is_marriage, "MARRIAGE", required=True, schema=schema),
            *_one_of(name, NATIONALITIES, when=is_marriage, listed=listed, schema=schema))),
    ]


def blank_free_columns(distinct: dict[str, pl.Series]) -> frozenset[str]:
    """The columns, of those whose distinct raw values are given, where no value present
    is blank (so ``raw_present`` is "not null" on every row)."""
    return frozenset(name for name, values in distinct.items()
                     if not (values.drop_nulls().str.strip_chars().str.len_chars() == 0).any())


def event_rules(month: Month, codes: CodeTable, schema: pl.Schema | dict | None = None,
                blank_free: Collection[str] = ()) -> list[Rule]:
    """Rules for an events file of ``month`` (every registration date must fall in it);
    with the file's ``schema`` (and ``blank_free``, ``raw_present``), presence is tested
    the cheapest way its types allow."""
    kind = _t("event_type")
    is_move = kind == "MOVE"
    is_couple = kind.is_in(["MARRIAGE", "DIVORCE"])
    required = ["event_id", "event_type", "registration_date", "occurrence_date",
                "person_id", "sex", "birth_date"]
    rules = [_required(c, schema) for c in required]
    rules += [
        Rule("event_type", allowed_text(EVENT_TYPES),
             kind.is_not_null() & ~kind.is_in(EVENT_TYPES)),
        _malformed("registration_date", "date (YYYY-MM-DD or ROC YYYMMDD)", schema),
        _malformed("occurrence_date", "date (YYYY-MM-DD or ROC YYYMMDD)", schema),
        _malformed("birth_date", "date (YYYY-MM-DD or ROC YYYMMDD)", schema),
        Rule("registration_date", f"registration date outside {month}",
             (_t("registration_date") < pl.lit(month.first_day))
             | (_t("registration_date") > pl.lit(month.last_day))),
        Rule("occurrence_date", "occurred after its registration",
             _t("occurrence_date") > _t("registration_date")),
        Rule("birth_date", "birth after the event", _t("birth_date") > _t("occurrence_date")),
        Rule("birth_date", "a birth's birth_date must equal its occurrence_date",
             (kind == "BIRTH") & (_t("birth_date") != _t("occurrence_date"))),
        *_one_of("sex", (1, 2), schema=schema),
        Rule("village_code", "required for BIRTH, DEATH, MARRIAGE and DIVORCE",
             kind.is_in(["BIRTH", "DEATH", "MARRIAGE", "DIVORCE"])
             & ~raw_present("village_code", blank_free=blank_free)),
        *_code_rules("village_code", month, codes, ~is_move),
        Rule("to_village_code", "a MOVE needs an origin or a destination",
             is_move & ~raw_present("from_village_code", blank_free=blank_free)
             & ~raw_present("to_village_code", blank_free=blank_free)),
        *_code_rules("from_village_code", month, codes, is_move),
        *_code_rules("to_village_code", month, codes, is_move),
        Rule("partner_sex", "required for MARRIAGE and DIVORCE",
             is_couple & ~raw_present("partner_sex", schema)),
        *_one_of("partner_sex", (1, 2), when=is_couple, schema=schema),
    ]
    return rules


def missing_columns(file: str, schema: pl.Schema, columns: dict[str, pl.DataType]) -> list[Problem]:
    return [
        Problem(file, None, name, None, "required column missing")
        for name in columns
        if name not in schema
    ]


def wrong_types(file: str, schema: pl.Schema, columns: dict[str, pl.DataType]) -> list[Problem]:
    """Parquet columns whose physical type cannot hold the contract's type."""
    problems = []
    for name, want in columns.items():
        have = schema.get(name)
        if have is None or have == pl.String:
            continue
        ok = (
            (want == pl.Date and (have == pl.Date or isinstance(have, pl.Datetime)))
            or (want.is_integer() and have.is_integer())
            or (want == pl.String and isinstance(have, (pl.Categorical, pl.Enum)))
        )
        if not ok:
            problems.append(Problem(file, None, name, str(have), f"wrong type; expected {want}"))
    return problems


def typed_residents(raw: pl.LazyFrame, fixes: dict[str, dict[str, str]] | None = None) -> pl.LazyFrame:
    """A validated residents frame with the contract's column types (and ``tribe`` when the
    file has it)."""
    columns = file_columns("residents", raw.collect_schema())
    return typed_frame(raw, columns, fixes).select(
        [_t(name).cast(dtype).alias(name) for name, dtype in columns.items()]
    )


def typed_events(raw: pl.LazyFrame, fixes: dict[str, dict[str, str]] | None = None) -> pl.LazyFrame:
    """A validated events frame with the contract's column types (absent optional columns
    null; the §8 columns when the file has them)."""
    schema = raw.collect_schema()
    columns = file_columns("events", schema)
    for name in EVENT_COLUMNS:
        if name not in schema:
            raw = raw.with_columns(pl.lit(None, pl.String).alias(name))
    return typed_frame(raw, columns, fixes).select(
        [_t(name).cast(dtype).alias(name) for name, dtype in columns.items()]
    )
