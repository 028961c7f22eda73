"""MOI open data 131138 (village × month births, deaths, marriages, divorces) for tests.

``read_bdmd`` reads one monthly file in either header layout; ``events_from_bdmd`` turns
its counts into a contract events file (CONTRACT §1): one BIRTH/DEATH row per person and
one MARRIAGE/DIVORCE row per couple, so that a build must reproduce MOI's figures.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from stats.periods import ROC_OFFSET, Month
from stats.schemas import EVENT_COLUMNS, RESIDENT_COLUMNS

# MOI's Chinese labels -> short names used below.
LABELS = {
    "統計年月": "yyymm",
    "區域別代碼": "village_code",
    "區域別": "town_name",
    "村里名稱": "village_name",
    "出生數": "births",
    "出生數-男": "births_male",
    "出生數-女": "births_female",
    "死亡數": "deaths",
    "死亡數-男": "deaths_male",
    "死亡數-女": "deaths_female",
    "結婚對數_異性": "marriages_opposite",
    "結婚對數_同性": "marriages_same_sex",
    "結婚對數_同性_男": "marriages_same_sex_male",
    "結婚對數_同性_女": "marriages_same_sex_female",
    "離婚對數_異性": "divorces_opposite",
    "離婚對數_同性": "divorces_same_sex",
    "離婚對數_同性_男": "divorces_same_sex_male",
    "離婚對數_同性_女": "divorces_same_sex_female",
}
COUNTS = [name for name in LABELS.values() if name not in
          ("yyymm", "village_code", "town_name", "village_name")]

# event type, sex, partner sex (null for births and deaths) <- the MOI count it repeats
EVENT_KINDS: tuple[tuple[str, str, int, int | None], ...] = (
    ("births_male", "BIRTH", 1, None),
    ("births_female", "BIRTH", 2, None),
    ("deaths_male", "DEATH", 1, None),
    ("deaths_female", "DEATH", 2, None),
    ("marriages_opposite", "MARRIAGE", 1, 2),
    ("marriages_same_sex_male", "MARRIAGE", 1, 1),
    ("marriages_same_sex_female", "MARRIAGE", 2, 2),
    ("divorces_opposite", "DIVORCE", 1, 2),
    ("divorces_same_sex_male", "DIVORCE", 1, 1),
    ("divorces_same_sex_female", "DIVORCE", 2, 2),
)


def bdmd_path(shared: Path, month: Month) -> Path:
    """The MOI file of one month under ``shared``."""
    return shared / "moi" / "bdmd" / f"{month}.csv.gz"


def read_bdmd(path: Path) -> pl.DataFrame:
    """One MOI monthly file with short column names and integer counts.

    Files up to 2024-06 open with a row of English codes followed by the Chinese labels;
    later files have only the Chinese row. The layout is detected from the header: when it
    is not the Chinese one, the first data row must be, and it names the columns.
    """
    raw = pl.read_csv(path, infer_schema=False)  # handles gzip and the UTF-8 BOM
    header = [c.lstrip("\ufeff") for c in raw.columns]
    if header[0] != "統計年月":
        labels = list(raw.row(0))
        if labels[0] != "統計年月":
            raise ValueError(f"{path}: neither header row is MOI's Chinese one: {header!r}")
        raw, header = raw.slice(1), labels
    raw.columns = header
    missing = set(LABELS) - set(header)
    if missing:
        raise ValueError(f"{path}: missing columns {sorted(missing)}")
    return raw.select(
        [pl.col(label).str.strip_chars().alias(name) for label, name in LABELS.items()]
    ).with_columns(pl.col(COUNTS).cast(pl.Int64))


def bdmd_month(frame: pl.DataFrame) -> Month:
    """The single month (ROC ``yyyMM``) a MOI file covers."""
    values = frame["yyymm"].unique().to_list()
    assert len(values) == 1, f"several months in one file: {values}"
    yyymm = int(values[0])
    return Month(yyymm // 100 + ROC_OFFSET, yyymm % 100)


def events_from_bdmd(frame: pl.DataFrame, month: Month) -> pl.DataFrame:
    """A contract events frame holding exactly MOI's counts, village by village.

    Every count becomes that many rows (``int_ranges`` + ``explode``); occurrence dates
    cycle through the days of the month, registration is on the month's last day.
    """
    kinds = pl.DataFrame(
        {
            "count_column": [k[0] for k in EVENT_KINDS],
            "event_type": [k[1] for k in EVENT_KINDS],
            "sex": [k[2] for k in EVENT_KINDS],
            "partner_sex": [k[3] for k in EVENT_KINDS],
        },
        schema={"count_column": pl.String, "event_type": pl.String, "sex": pl.Int8,
                "partner_sex": pl.Int8},
    )
    long = (
        frame.select("village_code", *[k[0] for k in EVENT_KINDS])
        .unpivot(index="village_code", variable_name="count_column", value_name="n")
        .filter(pl.col("n") > 0)
        .join(kinds, on="count_column", how="left")
        .with_columns(pl.int_ranges(0, pl.col("n")).alias("i"))
        .explode("i")
        .with_row_index("k")
    )
    days = month.last_day.day
    first, last = month.first_day, month.last_day
    occurred = pl.lit(first) + pl.duration(days=pl.col("k").cast(pl.Int64) % days)
    adult = pl.lit(date(first.year - 40, first.month, 1))
    is_birth = pl.col("event_type") == "BIRTH"
    event_id = pl.format("{}-{}-{}", "village_code", "count_column", "i")
    events = long.select(
        event_id.alias("event_id"),
        "event_type",
        pl.lit(last).alias("registration_date"),
        occurred.alias("occurrence_date"),
        # keys drawn anew each month (unique in the file, as CONTRACT §1 asks): the quarter
        # and year builds must accept the same key in two months' files
        pl.format("p-{}", event_id).alias("person_id"),
        "sex",
        pl.when(is_birth).then(occurred).otherwise(adult).alias("birth_date"),
        "village_code",
        pl.lit(None, pl.String).alias("from_village_code"),
        pl.lit(None, pl.String).alias("to_village_code"),
        "partner_sex",
    )
    return events.cast(EVENT_COLUMNS)  # type: ignore[arg-type]


def write_moi_events(shared: Path, months: list[Month], folder: Path) -> dict[Month, pl.DataFrame]:
    """Write ``events_YYYYMM.parquet`` of each month from MOI's file; return MOI's frames."""
    folder.mkdir(parents=True, exist_ok=True)
    moi = {}
    for month in months:
        frame = read_bdmd(bdmd_path(shared, month))
        found = bdmd_month(frame)
        assert found == month, f"{bdmd_path(shared, month)} holds {found}"
        events_from_bdmd(frame, month).write_parquet(folder / f"events_{month.compact}.parquet")
        moi[month] = frame
    return moi


def write_residents(folder: Path, month: Month, people: list[dict[str, object]]) -> None:
    """A residents snapshot: Parquet with ``people``, or a header-only CSV when empty."""
    frame = pl.DataFrame(people, schema=RESIDENT_COLUMNS)
    if people:
        frame.write_parquet(folder / f"residents_{month.compact}.parquet")
    else:
        frame.write_csv(folder / f"residents_{month.compact}.csv")
