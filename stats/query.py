"""Queries (CONTRACT §7): one small JSON document that the dashboards' builder edits,
``popstats query`` runs and agencies send to ``POST /api/v1/query``.

``parse_query`` checks a document and fills in its defaults (every reason it is invalid,
at once); ``run_query`` turns a normalised query and the release tables of its periods into
the result table. Both are pure: which revision of which period a caller may read, and
which areas, is decided by the caller (the access layer or the command line) and passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import polars as pl

from stats.catalogue import COLUMNS, TABLES, VALUE_LABELS
from stats.periods import Period, PeriodError, period_range
from stats.schemas import TABLE_COLUMNS, TABLE_KEY_VALUES, TABLE_KEYS, TABLE_LEVELS

LABELS = ("codes", "zh-TW", "en")
DEFAULT_MAX_CELLS = 5_000_000
MAX_AREAS = 20_000  # more than every village there is
MAX_PERIODS = 240
DIMENSIONS_FIXED = ("area", "period", "measure")
LEVEL_DIGITS = {"national": 5, "county": 5, "township": 8, "village": 11}
_CODE = re.compile(r"^\d{5}(\d{3}(\d{3})?)?$")
SEPARATOR = "|"
COUNTIES_AND_OUTSIDE = 23  # migration_flows' destinations: 22 counties and 99999


class QueryError(ValueError):
    """An invalid query document; ``problems`` lists every reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Query:
    """A checked query with every default filled in (``as_json`` is the normalised document)."""

    table: str
    periods: tuple[str, ...]
    area_level: str
    within: str | None
    areas: tuple[str, ...] | None
    measures: tuple[str, ...]
    keep: tuple[str, ...]
    age_bands: tuple[tuple[int, int], ...] | None
    stub: tuple[str, ...]
    heading: tuple[str, ...]
    labels: str

    @property
    def kept_keys(self) -> tuple[str, ...]:
        """The key dimensions of the result (``age_band`` in place of a banded ``age``)."""
        return tuple("age_band" if k == "age" and self.age_bands else k for k in self.keep)

    def as_json(self) -> dict[str, Any]:
        """The normalised document."""
        doc = asdict(self)
        doc["periods"] = list(self.periods)
        doc["areas"] = list(self.areas) if self.areas is not None else None
        doc["age_bands"] = [list(b) for b in self.age_bands] if self.age_bands else None
        for name in ("measures", "keep", "stub", "heading"):
            doc[name] = list(doc[name])
        return {k: v for k, v in doc.items() if v is not None}


def measures_of(table: str) -> list[str]:
    """The measure columns of a release table, in column order."""
    return [c for c in TABLE_COLUMNS[table] if c not in TABLE_KEYS.get(table, [])]


def is_additive(table: str, measure: str) -> bool:
    """Counts are integers and may be summed; rates and ratios are floats and may not (§3)."""
    return TABLE_COLUMNS[table][measure].is_integer()


def band_label(low: int, high: int) -> str:
    """``0-14``; ``65+`` for a band ending at 100 (100 = 100 and over)."""
    return f"{low}+" if high >= 100 else f"{low}-{high}"


def _periods(value: Any, problems: list[str]) -> list[Period]:
    if isinstance(value, str) and ".." in value:
        first, _, last = value.partition("..")
        try:
            return period_range(Period.parse(first), Period.parse(last))
        except PeriodError as exc:
            problems.append(f"periods: {exc}")
            return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(p, str) for p in items):
        problems.append("periods: a list of periods (2025-01, 2025-Q1, 2025) or a range FROM..TO")
        return []
    parsed = []
    for item in items:
        try:
            parsed.append(Period.parse(item))
        except PeriodError as exc:
            problems.append(f"periods: {exc}")
    if len({p.kind for p in parsed}) > 1:
        problems.append("periods: all of one kind (months, quarters or years)")
    if len(set(parsed)) != len(parsed):
        problems.append("periods: a period is named twice")
    return sorted(parsed, key=lambda p: (p.year, p.number))


def _names(doc: Mapping[str, Any], field: str, allowed: Sequence[str], default: Sequence[str],
           problems: list[str]) -> list[str]:
    value = doc.get(field)
    if value is None:
        return list(default)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{field}: a list of names")
        return list(default)
    if unknown := [v for v in value if v not in allowed]:
        problems.append(f"{field}: {', '.join(map(str, unknown))} not among "
                        f"{', '.join(allowed) or 'nothing'}")
    if len(set(value)) != len(value):
        problems.append(f"{field}: a name is given twice")
    return [v for v in value if v in allowed]


def _bands(value: Any, problems: list[str]) -> list[tuple[int, int]] | None:
    if value is None:
        return None
    ok = isinstance(value, list) and value and all(
        isinstance(b, list) and len(b) == 2 and all(type(x) is int for x in b) for b in value)
    if not ok:
        problems.append("age_bands: a list of [low, high] pairs of whole years, e.g. [[0, 14], [15, 64]]")
        return None
    bands = sorted((int(lo), int(hi)) for lo, hi in value)
    for lo, hi in bands:
        if not 0 <= lo <= hi <= 100:
            problems.append(f"age_bands: [{lo}, {hi}] is not a band within 0…100")
    for (_, hi), (lo, _) in zip(bands, bands[1:], strict=False):
        if lo <= hi:
            problems.append(f"age_bands: bands overlap at age {lo}")
    return bands


def _areas(doc: Mapping[str, Any], level: str | None, problems: list[str]
           ) -> tuple[str | None, list[str] | None]:
    within, areas = doc.get("within"), doc.get("areas")
    if within is not None and areas is not None:
        problems.append("give within or areas, not both")
    if within is not None and (not isinstance(within, str) or not _CODE.match(within)):
        problems.append("within: an area code of 5, 8 or 11 digits")
        within = None
    if areas is not None:
        if (not isinstance(areas, list) or not areas or len(areas) > MAX_AREAS
                or not all(isinstance(a, str) and _CODE.match(a) for a in areas)):
            problems.append(f"areas: a list of 1 to {MAX_AREAS:,} area codes of 5, 8 or 11 digits")
            areas = None
        elif level in LEVEL_DIGITS and (wrong := [a for a in areas if
                                                 len(a) != LEVEL_DIGITS[level]
                                                 or (level == "national") != (a == "00000")]):
            problems.append(f"areas: {', '.join(wrong[:5])} not of level {level}")
    return within, areas


def parse_query(doc: Any) -> Query:
    """The normalised query of a document.

    Raises
    ------
    QueryError
        With every reason the document is invalid.
    """
    if not isinstance(doc, Mapping):
        raise QueryError(["a query is a JSON object"])
    problems: list[str] = []
    known = {"table", "periods", "area_level", "within", "areas", "measures", "keep",
             "age_bands", "stub", "heading", "labels"}
    if unknown := sorted(set(doc) - known):
        problems.append(f"unknown field(s) {', '.join(map(str, unknown))}")
    table = doc.get("table")
    if table not in TABLES:
        raise QueryError([*problems, f"table: one of {', '.join(TABLES)}"])
    periods = _periods(doc.get("periods"), problems)
    if len(periods) > MAX_PERIODS:
        problems.append(f"periods: at most {MAX_PERIODS} in one query")
    level = doc.get("area_level")
    if level not in TABLE_LEVELS[table]:
        problems.append(f"area_level: one of {', '.join(TABLE_LEVELS[table])} for {table}")
        level = None
    within, areas = _areas(doc, level, problems)
    measures = _names(doc, "measures", measures_of(table), measures_of(table), problems)
    if doc.get("measures") == []:
        problems.append("measures: name at least one")
    keys = TABLE_KEYS.get(table, [])
    keep = _names(doc, "keep", keys, keys, problems)
    bands = _bands(doc.get("age_bands"), problems)
    if bands is not None and "age" not in keys:
        problems.append(f"age_bands: {table} has no age")
        bands = None
    summed = [k for k in keys if k not in keep] + (["age (in bands)"] if bands else [])
    if summed and (rates := [m for m in measures if not is_additive(table, m)]):
        problems.append(f"{', '.join(rates)} cannot be summed over {', '.join(summed)}")
    labels = doc.get("labels", "zh-TW")
    if labels not in LABELS:
        problems.append(f"labels: one of {', '.join(LABELS)}")
    kept = ["age_band" if k == "age" and bands else k for k in keep]
    stub, heading = _layout(doc, kept, problems)
    if problems:
        raise QueryError(problems)
    return Query(table, tuple(str(p) for p in periods), level, within,
                 tuple(areas) if areas is not None else None, tuple(measures), tuple(keep),
                 tuple(bands) if bands else None, tuple(stub), tuple(heading), labels)


def _layout(doc: Mapping[str, Any], kept: list[str], problems: list[str]
            ) -> tuple[list[str], list[str]]:
    dims = ["area", "period", *kept, "measure"]
    stub, heading = doc.get("stub"), doc.get("heading")
    for name, value in (("stub", stub), ("heading", heading)):
        if value is not None and (not isinstance(value, list)
                                  or not all(isinstance(v, str) for v in value)):
            problems.append(f"{name}: a list of dimensions ({', '.join(dims)})")
            return [d for d in dims if d != "measure"], ["measure"]
    if stub is None and heading is None:
        return [d for d in dims if d != "measure"], ["measure"]
    if stub is None:
        stub = [d for d in dims if d not in heading]
    if heading is None:
        heading = [d for d in dims if d not in stub]
    given = [*stub, *heading]
    if sorted(given) != sorted(dims):
        missing = [d for d in dims if d not in given]
        extra = [d for d in given if d not in dims or given.count(d) > 1]
        problems.append("stub and heading name every dimension exactly once ("
                        + ", ".join(dims) + ")"
                        + (f"; missing {', '.join(missing)}" if missing else "")
                        + (f"; not expected {', '.join(sorted(set(extra)))}" if extra else ""))
    if not stub:
        problems.append("stub: at least one dimension goes down the rows")
    return list(stub), list(heading)


def query_cells(query: Query, n_areas: int) -> int:
    """The number of cells the result holds (areas × periods × key values × measures)."""
    per_key = {key: len(values) for key, values in TABLE_KEY_VALUES.get(query.table, {}).items()}
    per_key["to_code"] = COUNTIES_AND_OUTSIDE
    cells = n_areas * len(query.periods) * len(query.measures)
    for key in query.keep:
        cells *= len(query.age_bands) if key == "age" and query.age_bands else per_key.get(key, 1)
    return cells


@dataclass(frozen=True)
class QueryResult:
    """The result table and the revision of each period it was read from."""

    query: Query
    frame: pl.DataFrame
    revisions: dict[str, int]

    def as_json(self) -> dict[str, Any]:
        """``{"query", "columns", "rows", "revisions"}`` as CONTRACT §7 describes."""
        return {"query": self.query.as_json(), "columns": self.frame.columns,
                "rows": [list(r) for r in self.frame.iter_rows()],
                "revisions": self.revisions}


def _area_filter(query: Query, allowed: Callable[[pl.Expr], pl.Expr] | None) -> pl.Expr:
    condition = pl.col("area_level") == query.area_level
    if query.within is not None:
        condition &= pl.col("area_code").str.starts_with(query.within)
    if query.areas is not None:
        condition &= pl.col("area_code").is_in(list(query.areas))
    if allowed is not None:
        condition &= allowed(pl.col("area_code"))
    return condition


def _band_expr(bands: Sequence[tuple[int, int]]) -> pl.Expr:
    expr = pl.lit(None, dtype=pl.String)
    for low, high in reversed(bands):
        expr = pl.when(pl.col("age").is_between(low, high)).then(pl.lit(band_label(low, high))
                                                                  ).otherwise(expr)
    return expr.alias("age_band")


def long_rows(query: Query, tables: Mapping[str, pl.LazyFrame],
              allowed: Callable[[pl.Expr], pl.Expr] | None = None) -> pl.LazyFrame:
    """The query's cells in long form: area_code, period, kept keys, measure, value."""
    keys = list(query.kept_keys)
    frames = []
    for period in query.periods:
        frame = tables[period].filter(_area_filter(query, allowed))
        if query.age_bands:
            frame = frame.with_columns(_band_expr(query.age_bands)).filter(
                pl.col("age_band").is_not_null())
        columns = ["area_code", "period", *keys]
        if len(keys) < len(TABLE_KEYS.get(query.table, [])) or query.age_bands:
            frame = frame.group_by(columns).agg(pl.col(list(query.measures)).sum())
        frames.append(frame.select(*columns, *query.measures))
    numeric = pl.Float64 if any(not TABLE_COLUMNS[query.table][m].is_integer()
                                for m in query.measures) else pl.Int64
    return (pl.concat(frames, how="vertical_relaxed")
            .with_columns(pl.col(list(query.measures)).cast(numeric))
            .unpivot(index=["area_code", "period", *keys], on=list(query.measures),
                     variable_name="measure", value_name="value"))


def _order_columns(query: Query) -> dict[str, pl.Expr]:
    """For each dimension, the expression its values sort by (§7's row order)."""
    order = {"area": pl.col("area_code"), "period": pl.col("period"),
             "measure": pl.col("measure").replace_strict(
                 list(query.measures), list(range(len(query.measures))), return_dtype=pl.Int32)}
    for key in query.kept_keys:
        if key == "age_band":
            lows = [band_label(lo, hi) for lo, hi in query.age_bands or ()]
            order[key] = pl.col(key).replace_strict(lows, list(range(len(lows))),
                                                    return_dtype=pl.Int32)
        else:
            order[key] = pl.col(key)
    return order


def _dimension_column(dim: str) -> str:
    return {"area": "area_code"}.get(dim, dim)


def _precedence(query: Query) -> list[str]:
    """§7: areas (release order), then keys ascending, periods ascending, measures as asked."""
    return ["area", *query.kept_keys, "period", "measure"]


def _labelled(query: Query, frame: pl.DataFrame, names: pl.DataFrame | None) -> pl.DataFrame:
    """Values as people read them in the query's language (area names from ``names``)."""
    lang = "en" if query.labels == "en" else "zh"
    replacements = {
        "period": {p: Period.parse(p).label(lang) for p in query.periods},
        "measure": {m: getattr(COLUMNS[m], lang) for m in query.measures},
    }
    for key in query.kept_keys:
        if key in VALUE_LABELS:
            replacements[key] = {v: pair[lang == "en"] for v, pair in VALUE_LABELS[key].items()}
    columns = []
    for column, mapping in replacements.items():
        if column in frame.columns:
            source = pl.col(column)
            columns.append(source.replace_strict(mapping, default=source.cast(pl.String),
                                                 return_dtype=pl.String).alias(f"{column}__label"))
    frame = frame.with_columns(columns)
    if names is not None:  # in English the Chinese name stands in where there is no English one
        name = pl.col("area_name")
        if lang == "en" and "area_name_en" in names.columns:
            name = pl.coalesce(pl.col("area_name_en"), name)
        frame = frame.join(names.select("area_code", name.alias("area_name")),
                           on="area_code", how="left").with_columns(
            pl.col("area_name").fill_null(pl.col("area_code")))
    else:
        frame = frame.with_columns(pl.col("area_code").alias("area_name"))
    return frame


def run_query(query: Query, tables: Mapping[str, pl.LazyFrame], revisions: Mapping[str, int],
              *, names: pl.DataFrame | None = None,
              allowed: Callable[[pl.Expr], pl.Expr] | None = None) -> QueryResult:
    """The result table of ``query`` from each period's release table.

    ``tables`` maps every period of the query to its release table; ``names`` gives
    ``area_code``, ``area_name`` (and optionally ``area_name_en``) for labelled results;
    ``allowed`` restricts the areas further (the caller's grant).
    """
    long = long_rows(query, tables, allowed).collect()
    labelled = query.labels != "codes"
    if labelled:
        long = _labelled(query, long, names)
    order = _order_columns(query)
    stub_cols = [_dimension_column(d) for d in query.stub]
    heading_dims = list(query.heading)

    def shown(dim: str) -> pl.Expr:
        """A dimension's value as written in a header or a stub cell."""
        column = _dimension_column(dim)
        if labelled and dim == "area":
            return pl.col("area_name")
        if labelled and f"{column}__label" in long.columns:
            return pl.col(f"{column}__label")
        return pl.col(column).cast(pl.String)

    sort_keys = [order[d].alias(f"__order_{d}") for d in _precedence(query)]
    long = long.with_columns(sort_keys).sort([f"__order_{d}" for d in _precedence(query)])
    if heading_dims:
        long = long.with_columns(
            pl.concat_str([shown(d) for d in heading_dims], separator=SEPARATOR).alias("__head"))
        head_order = (long.select("__head", *[f"__order_{d}" for d in heading_dims])
                      .unique("__head").sort([f"__order_{d}" for d in heading_dims])["__head"])
    else:
        long = long.with_columns(pl.lit("value").alias("__head"))
        head_order = pl.Series(["value"])
    index = [*stub_cols, *([] if not labelled or "area" not in query.stub else ["area_name"])]
    index += [f"{c}__label" for c in stub_cols if labelled and f"{c}__label" in long.columns]
    row_order = [f"__order_{d}" for d in _precedence(query) if d in query.stub]
    wide = (long.select(*index, *row_order, "__head", "value")
            .pivot(on="__head", index=[*index, *row_order], values="value",
                   aggregate_function=None)
            .sort(row_order))
    out: list[pl.Expr] = []
    for dim in query.stub:
        column = _dimension_column(dim)
        if labelled and f"{column}__label" in wide.columns:
            out.append(pl.col(f"{column}__label").alias(column))
        else:
            out.append(pl.col(column))
        if dim == "area" and labelled:
            out.append(pl.col("area_name"))
    out += [pl.col(h) for h in head_order.to_list()]
    return QueryResult(query, wide.select(out), dict(revisions))
