"""The xarray view of releases: same numbers as the tables, periods aligned, NetCDF round trip."""

from __future__ import annotations

import numpy as np
import polars as pl
import xarray as xr

from stats.cube import cube, period_cube
from tests.helpers import row
from tests.stats.test_tables import END, EVENTS, START, tables_for


def test_period_cube_holds_the_tables_numbers():
    tables = tables_for("2024-03", START, END, EVENTS)
    ds = period_cube(tables)
    assert ds.sizes["period"] == 1 and ds.sizes["age"] == 101 and ds.sizes["sex"] == 2
    national = ds.sel(period="2024-03", area="00000")
    assert int(national["population"]) == row(tables["population"], "00000")["population"]
    assert int(national["population_by_age"].sum()) == 11
    assert int(national["population_by_age"].sel(sex=2, age=15)) == 1
    assert float(national["median_age"]) == row(tables["indicators"], "00000")["median_age"]
    assert int(national["in_migration"]) == 1
    assert int(ds["population_by_marital_status"].sel(period="2024-03", area="00000", sex=1,
                                                      marital_status=2)) == 2
    # villages have no marital-status table: missing, not zero
    assert np.isnan(float(ds["population_by_marital_status"].sel(
        period="2024-03", area="63000010001", sex=1, marital_status=2)))
    # the cube's age totals equal the population table in every area
    by_area = ds["population_by_age"].sum(["sex", "age"]).sel(period="2024-03")
    assert (by_area.values == ds["population"].sel(period="2024-03").values).all()


def test_periods_align_on_areas():
    feb = tables_for("2024-02", START, START, [])
    mar = tables_for("2024-03", START, END, EVENTS)
    ds = cube({"2024-02": feb, "2024-03": mar})
    assert list(ds["period"].values) == ["2024-02", "2024-03"]
    # the village retired after February exists only in February; the new one only in March
    assert float(ds["population"].sel(period="2024-02", area="63000010002")) == 1
    assert np.isnan(float(ds["population"].sel(period="2024-03", area="63000010002")))
    assert float(ds["population"].sel(period="2024-03", area="63000010003")) == 2


def test_netcdf_round_trip(tmp_path):
    ds = period_cube(tables_for("2024-03", START, END, EVENTS))
    path = tmp_path / "cube.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.open_dataset(path, engine="h5netcdf")
    xr.testing.assert_identical(back.load(), ds)
    back.close()
    assert pl.Series(back["area"].values).to_list()[0] == "00000"


def test_release_cube_reads_built_releases(tmp_path):
    from datetime import date

    from stats.cube import release_cube
    from stats.periods import Month, Period
    from stats.release import build_release
    from tests.helpers import event, person, tiny_codes, write_extract

    people = [person(f"p{i}", "63000010001", born=date(1990, 1, 1)) for i in range(5)]
    deaths = [event("d", "DEATH", date(2024, 3, 2), pid="p0", village="63000010001")]
    extract = write_extract(tmp_path / "x", {Month(2024, 1): people, Month(2024, 2): people,
                                             Month(2024, 3): people[1:]},
                            {Month(2024, 2): [], Month(2024, 3): deaths})
    for period in ("2024-02", "2024-03"):
        build_release(extract, Period.parse(period), tmp_path / "rel", tiny_codes())
    ds = release_cube([tmp_path / "rel" / "2024-02", tmp_path / "rel" / "2024-03"])
    assert ds["population"].sel(area="00000").values.tolist() == [5, 4]
    assert ds["deaths"].sel(area="00000").values.tolist() == [0, 1]
