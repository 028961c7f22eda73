"""Column names, types and code lists of the source extract and the release tables (CONTRACT §1, §3)."""

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

EVENT_TYPES = ("BIRTH", "DEATH", "MARRIAGE", "DIVORCE", "MOVE")
SEXES = (1, 2)  # 1 male, 2 female
INDIGENOUS = (0, 1, 2)  # 0 not indigenous, 1 lowland (平地), 2 highland (山地)
MARITAL_STATUSES = (1, 2, 3, 4)  # never married, married, divorced, widowed
MAX_AGE = 100  # the last age group is "100 and over"
AGES = tuple(range(MAX_AGE + 1))

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
}

TABLE_LEVELS: dict[str, tuple[str, ...]] = {
    name: ("national", "county", "township", "village") for name in TABLE_COLUMNS
}
TABLE_LEVELS["population_by_marital_status"] = ("national", "county", "township")

# The non-area keys of each table, in column order.
TABLE_KEYS: dict[str, list[str]] = {
    "population_by_age": ["sex", "age"],
    "population_by_marital_status": ["sex", "marital_status"],
    "indigenous_population": ["indigenous"],
}


def table_schema(table: str) -> dict[str, pl.DataType]:
    """Full column schema of a release table, keys first."""
    return {
        "period": pl.String(),
        "area_level": pl.String(),
        "area_code": pl.String(),
        **TABLE_COLUMNS[table],
    }
