"""Column names, types and code lists of the source extract and the release tables (CONTRACT §1, §3, §8)."""

from __future__ import annotations

import polars as pl

# --- source extract -------------------------------------------------------------------

RESIDENT_COLUMNS: dict[str, pl.DataType] = {
    "person_id": pl.String(),
    "household_id": pl.String(),
    "village_code": pl.String(),
    "sex": pl.Int8(),
    "birth_date": pl.Date(),
    "indigenous": pl.Int8(),
    "marital_status": pl.Int8(),
}

EVENT_COLUMNS: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "event_type": pl.String(),
    "registration_date": pl.Date(),
    "occurrence_date": pl.Date(),
    "person_id": pl.String(),
    "sex": pl.Int8(),
    "birth_date": pl.Date(),
    "village_code": pl.String(),
    "from_village_code": pl.String(),
    "to_village_code": pl.String(),
    "partner_sex": pl.Int8(),
}

# CONTRACT §8: optional v2 columns; an extract has all of them or none.
RESIDENT_V2_COLUMNS: dict[str, pl.DataType] = {"tribe": pl.Int8()}
EVENT_V2_COLUMNS: dict[str, pl.DataType] = {
    "mother_birth_date": pl.Date(),
    "mother_nationality": pl.Int8(),
    "nationality": pl.Int8(),
    "partner_nationality": pl.Int8(),
}

EVENT_TYPES = ("BIRTH", "DEATH", "MARRIAGE", "DIVORCE", "MOVE")
SEXES = (1, 2)  # 1 male, 2 female
INDIGENOUS = (0, 1, 2)  # 0 not indigenous, 1 lowland (平地), 2 highland (山地)
MARITAL_STATUSES = (1, 2, 3, 4)  # never married, married, divorced, widowed
MAX_AGE = 100  # the last age group is "100 and over"
AGES = tuple(range(MAX_AGE + 1))
# §8 code lists: 0 not indigenous, 1…16 the recognised peoples, 99 not declared
TRIBES = (*range(1, 17), 99)
TRIBE_CODES = (0, *TRIBES)
# original nationality (原屬國籍): 0 unknown, 1 ROC, 2 mainland China, …, 98 other
NATIONALITIES = (0, *range(1, 12), 98)
MOTHER_AGE_GROUPS = (0, 14, *range(15, 51, 5))  # 0 unknown, 14 under 15, 50 = 50 and over
DEATH_AGE_GROUPS = (0, 1, *range(5, 101, 5))  # 1 = 1–4, 100 = 100 and over
LIFE_AGE_GROUPS = (0, 1, *range(5, 86, 5))  # 85 = 85 and over (open)
LIFE_SEXES = (0, 1, 2)  # 0 both sexes
OUTSIDE_CODE = "99999"  # migration_flows: outside the register

# --- release tables -------------------------------------------------------------------

KEY_COLUMNS = ["period", "area_level", "area_code"]

TABLE_COLUMNS: dict[str, dict[str, pl.DataType]] = {
    "population": {
        "households": pl.Int64(),
        "population": pl.Int64(),
        "male": pl.Int64(),
        "female": pl.Int64(),
    },
    "population_by_age": {
        "sex": pl.Int8(),
        "age": pl.Int16(),
        "population": pl.Int64(),
    },
    "vital_events": {
        name: pl.Int64()
        for name in (
            "births", "births_male", "births_female",
            "deaths", "deaths_male", "deaths_female",
            "marriages", "marriages_same_sex",
            "marriages_same_sex_male", "marriages_same_sex_female",
            "divorces", "divorces_same_sex",
            "divorces_same_sex_male", "divorces_same_sex_female",
            "in_migration", "out_migration",
            "natural_increase", "social_increase",
        )
    },
    "indicators": {
        name: pl.Float64()
        for name in (
            "sex_ratio", "avg_household_size",
            "share_0_14", "share_15_64", "share_65_plus",
            "dependency_ratio", "child_dependency_ratio", "old_age_dependency_ratio",
            "aging_index", "median_age",
            "crude_birth_rate", "crude_death_rate", "natural_increase_rate",
            "crude_marriage_rate", "crude_divorce_rate",
        )
    },
    "population_by_marital_status": {
        "sex": pl.Int8(),
        "marital_status": pl.Int8(),
        "population": pl.Int64(),
    },
    "indigenous_population": {
        "indigenous": pl.Int8(),
        "male": pl.Int64(),
        "female": pl.Int64(),
        "population": pl.Int64(),
    },
    "reconciliation": {
        name: pl.Int64()
        for name in (
            "population_start", "births", "deaths", "in_migration", "out_migration",
            "population_end", "residual",
        )
    },
    # --- §8 (v2) ---
    "births_by_mother": {
        "mother_age_group": pl.Int8(),
        "mother_nationality": pl.Int8(),
        "births": pl.Int64(),
        "births_male": pl.Int64(),
        "births_female": pl.Int64(),
    },
    "fertility": {
        name: pl.Float64()
        for name in (
            *(f"asfr_{g}_{g + 4}" for g in range(15, 50, 5)),
            "general_fertility_rate", "total_fertility_rate", "mean_age_at_birth",
        )
    },
    "marriages_by_nationality": {
        "sex": pl.Int8(),
        "nationality": pl.Int8(),
        "persons": pl.Int64(),
        "persons_same_sex": pl.Int64(),
    },
    "indigenous_by_tribe": {
        "tribe": pl.Int8(),
        "male": pl.Int64(),
        "female": pl.Int64(),
        "population": pl.Int64(),
    },
    "migration_flows": {
        "to_code": pl.String(),
        "moves": pl.Int64(),
        "moves_male": pl.Int64(),
        "moves_female": pl.Int64(),
    },
    "deaths_by_age": {
        "sex": pl.Int8(),
        "age_group": pl.Int16(),
        "deaths": pl.Int64(),
    },
    "life_table": {
        "sex": pl.Int8(),
        "age_group": pl.Int16(),
        **{name: pl.Float64() for name in ("mx", "qx", "ax", "lx", "dx", "nLx", "Tx", "ex")},
    },
}

# The seven tables of CONTRACT §3, built for every period from any extract.
V1_TABLES: tuple[str, ...] = (
    "population", "population_by_age", "vital_events", "indicators",
    "population_by_marital_status", "indigenous_population", "reconciliation",
)
# §8 tables v1 extracts give too (``life_table`` for years only).
STAR_TABLES: tuple[str, ...] = ("migration_flows", "deaths_by_age", "life_table")
# §8 tables only v2 extracts give (absent, not empty, from a v1 extract).
V2_ONLY_TABLES: tuple[str, ...] = (
    "births_by_mother", "fertility", "marriages_by_nationality", "indigenous_by_tribe",
)
YEAR_ONLY_TABLES: tuple[str, ...] = ("life_table",)

_ALL_LEVELS = ("national", "county", "township", "village")
_NCT = ("national", "county", "township")
TABLE_LEVELS: dict[str, tuple[str, ...]] = {name: _ALL_LEVELS for name in TABLE_COLUMNS}
TABLE_LEVELS["population_by_marital_status"] = _NCT
TABLE_LEVELS.update({
    "births_by_mother": _NCT,
    "fertility": ("national", "county"),
    "marriages_by_nationality": _NCT,
    "migration_flows": ("county",),
    "deaths_by_age": _NCT,
    "life_table": ("national", "county"),
})

# The non-area keys of each table, in column order.
TABLE_KEYS: dict[str, list[str]] = {
    "population_by_age": ["sex", "age"],
    "population_by_marital_status": ["sex", "marital_status"],
    "indigenous_population": ["indigenous"],
    "births_by_mother": ["mother_age_group", "mother_nationality"],
    "marriages_by_nationality": ["sex", "nationality"],
    "indigenous_by_tribe": ["tribe"],
    "migration_flows": ["to_code"],
    "deaths_by_age": ["sex", "age_group"],
    "life_table": ["sex", "age_group"],
}

# The values each key takes in each table (the complete grid); ``to_code`` depends on the
# period's counties and is absent here.
TABLE_KEY_VALUES: dict[str, dict[str, tuple[int, ...]]] = {
    "population_by_age": {"sex": SEXES, "age": AGES},
    "population_by_marital_status": {"sex": SEXES, "marital_status": MARITAL_STATUSES},
    "indigenous_population": {"indigenous": (1, 2)},
    "births_by_mother": {"mother_age_group": MOTHER_AGE_GROUPS,
                         "mother_nationality": NATIONALITIES},
    "marriages_by_nationality": {"sex": SEXES, "nationality": NATIONALITIES},
    "indigenous_by_tribe": {"tribe": TRIBES},
    "deaths_by_age": {"sex": SEXES, "age_group": DEATH_AGE_GROUPS},
    "life_table": {"sex": LIFE_SEXES, "age_group": LIFE_AGE_GROUPS},
}


def table_schema(table: str) -> dict[str, pl.DataType]:
    """Full column schema of a release table, keys first."""
    return {
        "period": pl.String(),
        "area_level": pl.String(),
        "area_code": pl.String(),
        **TABLE_COLUMNS[table],
    }
