"""An embargo typed in Taipei time holds to the second: ``publish --at "2026-12-10 16:00"``
(or its ROC form) makes the release public at 08:00:00 UTC — not at 07:59:59 — on the API
(``GET /api/v1/releases``, a table request) and in the dashboards (data layer, Releases page
rows, release calendar)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

import popstats.cli
from dashboards import data
from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from tests.dashboards.conftest import FakeClock

BEFORE = datetime(2026, 12, 10, 7, 59, 59, tzinfo=UTC)  # 15:59:59 in Taipei
AT = datetime(2026, 12, 10, 8, 0, 0, tzinfo=UTC)  # 16:00:00 in Taipei
TYPED_AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # when the statistician publishes
PERIOD = "2024-12"  # built but not published in the served demo


@pytest.fixture(params=["2026-12-10 16:00", "115/12/10 16:00", "1151210 1600"])
def scheduled(request, served, tmp_path, monkeypatch) -> dict:
    releases = tmp_path / "releases"
    shutil.copytree(served["releases"], releases, symlinks=True)
    shutil.copyfile(served["root"] / "access.db", tmp_path / "access.db")
    monkeypatch.setattr(popstats.cli, "_now", lambda: TYPED_AT)
    result = CliRunner().invoke(main, ["publish", "--releases", str(releases), "--period", PERIOD,
                                       "--by", "stat.lin", "--at", request.param])
    assert result.exit_code == 0, result.output
    assert ("scheduled: public from 115年12月10日 16:00 臺北時間 (2026-12-10 16:00 +08:00)"
            in result.output)
    clock = FakeClock(BEFORE)
    settings = ServerSettings(releases=releases, db_url=f"sqlite:///{tmp_path / 'access.db'}",
                              outbox=tmp_path / "outbox")
    return {"app": create_app(settings, clock), "clock": clock, "releases": releases,
            "token": served["accounts"]["national_user"]["token"]}


def _api(scheduled: dict, path: str):
    client = scheduled["app"].test_client()
    return client.get(path, headers={"Authorization": f"Bearer {scheduled['token']}"})


def test_the_api_shows_the_release_from_its_second_and_not_before(scheduled):
    table = f"/api/v1/tables/population?period={PERIOD}&area_code=00000"
    listed = _api(scheduled, "/api/v1/releases").get_json()["releases"]
    assert PERIOD not in [r["period"] for r in listed]
    assert _api(scheduled, table).status_code == 403
    scheduled["clock"].moment = AT
    listed = _api(scheduled, "/api/v1/releases").get_json()["releases"]
    assert [r["published_at"] for r in listed if r["period"] == PERIOD] == [
        "2026-12-10T08:00:00+00:00"]
    answer = _api(scheduled, table)
    assert answer.status_code == 200
    assert answer.get_json()["period"] == PERIOD


def test_the_dashboards_show_the_release_from_its_second_and_not_before(scheduled):
    from dashboards.pages.releases import calendar_rows, release_rows  # after the app exists

    app, releases = scheduled["app"], scheduled["releases"]
    with app.test_request_context("/"):
        assert PERIOD not in data.published_periods("month")
        assert data.release_dir(PERIOD) is None
    # an agency's Releases page has no row for it, its calendar shows the time (no revision)
    assert PERIOD not in [r[0] for r in release_rows(releases, BEFORE, staff=False, lang="zh")]
    def planned(now: datetime, staff: bool, lang: str) -> list[list[str]]:
        return [r for r in calendar_rows(releases, now, staff=staff, lang=lang) if r[0] == PERIOD]

    assert planned(BEFORE, False, "zh") == [[PERIOD, "115年12月10日 16:00 臺北時間", "排定公布", ""]]
    assert planned(BEFORE, True, "en") == [
        [PERIOD, "2026-12-10 16:00 +08:00", "revision 1 scheduled", "first release"]]
    staff_rows = release_rows(releases, BEFORE, staff=True, lang="zh")
    assert [r for r in staff_rows if r[0] == PERIOD] == [
        [PERIOD, "1", "scheduled", "115年12月10日 16:00 臺北時間", "首次發布"]]
    scheduled["clock"].moment = AT
    with app.test_request_context("/"):
        assert PERIOD in data.published_periods("month")
        assert data.release_dir(PERIOD) is not None
    assert [r for r in release_rows(releases, AT, staff=False, lang="en") if r[0] == PERIOD] == [
        [PERIOD, "1", "published", "2026-12-10 16:00 +08:00", "first release"]]
    assert planned(AT, False, "zh") == []
