"""The dashboards' data layer: caches never cross agencies and never outlive a revision."""

from __future__ import annotations

import shutil

import polars as pl
from click.testing import CliRunner

from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from tests.dashboards.client import audit_actions, call, logged_in, payload, table_rows


def overview(area: str) -> dict:
    return payload([("overview-figures", "children")],
                   [("overview-area", "value", area), ("overview-period", "value", "2025-03")])


def population_cell(answer) -> str:
    return next(r for r in table_rows(answer) if r[0] == "人口數")[1]


def test_an_answer_cached_for_one_agency_is_not_served_to_another(served):
    national = logged_in(served, "national_user")
    assert population_cell(call(national, overview("64000")))  # now cached for the national scope
    taipei = logged_in(served, "taipei_user")
    before = len(audit_actions(served, "taipei_user"))
    answer = call(taipei, overview("64000"))
    assert not [r for r in table_rows(answer) if r and r[0] == "人口數"]
    refused = [a for a, _ in audit_actions(served, "taipei_user")[before:] if a == "access.refused"]
    assert len(refused) == 2


def test_a_new_published_revision_is_what_the_next_view_shows(served, tmp_path):
    releases = tmp_path / "releases"
    shutil.copytree(served["releases"], releases, symlinks=True)
    shutil.copyfile(served["root"] / "access.db", tmp_path / "access.db")
    app = create_app(ServerSettings(releases=releases, db_url=f"sqlite:///{tmp_path / 'access.db'}",
                                    outbox=tmp_path / "outbox"))
    client = logged_in(served, "taipei_user", app=app)
    first = population_cell(call(client, overview("63000")))

    def run(*args: str) -> None:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output

    run("sample", "--out", str(tmp_path / "y"), "--scale", "0.002", "--seed", "7",
        "--start", "2025-03", "--months", "1")
    run("build", "--input", str(tmp_path / "y"), "--period", "2025-03", "--out", str(releases))
    revised = pl.read_parquet(releases / "2025-03" / "population.parquet")
    expected = int(revised.filter(pl.col("area_code") == "63000")["population"][0])
    assert f"{expected:,}" != first  # the new revision really differs
    assert population_cell(call(client, overview("63000"))) == first  # not published yet
    run("publish", "--releases", str(releases), "--period", "2025-03", "--by", "stat")
    assert population_cell(call(client, overview("63000"))) == f"{expected:,}"


def test_the_cache_holds_at_most_its_weight_and_drops_the_least_recently_used():
    from dashboards.data import _Lru

    cache = _Lru(10, weigh=len)
    cache.put("a", "xxxx")
    cache.put("b", "xxxx")
    assert cache.get("a") == "xxxx"  # a is now the most recently used
    cache.put("c", "xxxx")  # 12 > 10: b goes, not a
    assert cache.get("b") is None and cache.get("a") == "xxxx" and cache.total == 8
    cache.put("a", "xx")  # replacing an entry replaces its weight
    assert cache.total == 6
    cache.put("big", "x" * 50)  # heavier than the limit: kept alone rather than thrashing
    assert cache.get("big") and cache.get("a") is None and cache.total == 50
