"""Release tables as an xarray cube (area × period × sex × age), for dashboards and NetCDF."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl
import xarray as xr

from stats.release import read_table
from stats.schemas import AGES, MARITAL_STATUSES, SEXES, TABLE_COLUMNS, V1_TABLES

AREA_MEASURES = ("population", "vital_events", "indicators", "reconciliation")
UNITS = {"population": "persons", "vital_events": "events", "indicators": "see long_name",
         "reconciliation": "persons"}


def _area_variables(tables: Mapping[str, pl.DataFrame]) -> dict[str, tuple[tuple[str, ...], np.ndarray, dict]]:
    variables = {}
    for table in AREA_MEASURES:
        frame = tables[table].sort("area_code")
        for column in TABLE_COLUMNS[table]:
            if column in variables:  # births etc. appear in several tables; keep the first
                continue
            values = frame[column].to_numpy()
            variables[column] = (("area",), values, {"table": table, "units": UNITS[table]})
    return variables


def _keyed(frame: pl.DataFrame, keys: tuple[str, ...], shape: tuple[int, ...], value: str) -> np.ndarray:
    """Values of a zero-filled keyed table as an array (area, *keys)."""
    ordered = frame.sort("area_code", *keys)
    return ordered[value].to_numpy().reshape(-1, *shape)


def period_cube(tables: Mapping[str, pl.DataFrame]) -> xr.Dataset:
    """One period's tables as a Dataset with dims area, sex, age (and marital status,
    indigenous status); ``period`` is a length-1 dimension so periods concatenate."""
    population = tables["population"].sort("area_code")
    period = population["period"][0]
    codes = population["area_code"].to_numpy()
    data = _area_variables(tables)
    data["population_by_age"] = (
        ("area", "sex", "age"),
        _keyed(tables["population_by_age"], ("sex", "age"), (len(SEXES), len(AGES)), "population"),
        {"table": "population_by_age", "units": "persons"},
    )
    for sex_name, sex in (("male", 1), ("female", 2)):
        indigenous = tables["indigenous_population"].sort("area_code", "indigenous")
        data[f"indigenous_{sex_name}"] = (
            ("area", "indigenous"), indigenous[sex_name].to_numpy().reshape(-1, 2),
            {"table": "indigenous_population", "units": "persons", "sex": sex},
        )
    dataset = xr.Dataset(
        {name: xr.Variable(dims, values, attrs) for name, (dims, values, attrs) in data.items()},
        coords={
            "area": codes,
            "area_level": ("area", population["area_level"].to_numpy()),
            "sex": list(SEXES),
            "age": list(AGES),
            "indigenous": [1, 2],
        },
    )
    marital = tables["population_by_marital_status"]
    stock_codes = marital["area_code"].unique().sort().to_numpy()
    by_marital = xr.DataArray(
        _keyed(marital, ("sex", "marital_status"), (len(SEXES), len(MARITAL_STATUSES)), "population"),
        dims=("area", "sex", "marital_status"),
        coords={"area": stock_codes, "sex": list(SEXES), "marital_status": list(MARITAL_STATUSES)},
        attrs={"table": "population_by_marital_status", "units": "persons",
               "note": "aged 15 and over; no village level"},
    )
    dataset["population_by_marital_status"] = by_marital.reindex(area=codes)
    dataset.attrs = {"title": "Population statistics from the household register",
                     "source": "household register (popstats release)"}
    return dataset.expand_dims(period=[period])


def cube(periods: Mapping[str, Mapping[str, pl.DataFrame]]) -> xr.Dataset:
    """Several periods' tables as one Dataset (area × period × …); areas valid in only some
    periods are missing (NaN) in the others."""
    parts = [period_cube(tables) for _, tables in sorted(periods.items())]
    return xr.concat(parts, dim="period", join="outer", combine_attrs="override",
                     data_vars="all", coords="different", compat="equals")


def release_cube(release_dirs: list[Path]) -> xr.Dataset:
    """The cube of one or more release folders (``RELEASES/P`` or revision folders)."""
    periods = {}
    for folder in release_dirs:
        tables = {name: read_table(folder, name) for name in V1_TABLES}
        periods[tables["population"]["period"][0]] = tables
    return cube(periods)
