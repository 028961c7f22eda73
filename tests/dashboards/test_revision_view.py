"""The Releases page compares two revisions of a period for provider staff: the numbers of
``popstats report --compare`` (tests.marks_fixture: 26 cells counted by hand), chosen by a
GET form whose address is checked; agencies get no comparison (it shows figures)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from tests.dashboards.client import components, logged_in, page, text
from tests.dashboards.conftest import FakeClock
from tests.marks_fixture import LATER, PERIOD, revised_releases


def releases_page(client, search: str) -> dict:  # noqa: ANN001 - Flask's test client
    """The Releases page's layout as the pages router answers the address."""
    return page(client, "/releases", search)["response"]["_pages_content"]["children"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp_path = tmp_path_factory.mktemp("compare")
    releases = revised_releases(tmp_path)
    db = f"sqlite:///{tmp_path / 'access.db'}"
    done = CliRunner().invoke(main, ["demo-accounts", "--db", db, "--json"])
    assert done.exit_code == 0, done.output
    accounts = {a["username"]: a for a in json.loads(done.output)}
    settings = ServerSettings(releases=releases, db_url=db, outbox=tmp_path / "outbox")
    return {"app": create_app(settings, FakeClock(LATER)), "accounts": accounts, "db": db,
            "releases": releases}


def test_staff_see_the_two_revisions_compared(site: dict) -> None:
    client = logged_in(site, "moi_official")
    tree = releases_page(client, f"?period={PERIOD}&old=1&new=2")
    shown = text(tree)
    assert "2024-05 第 2 版與第 1 版比較：26 個細格變動" in shown
    assert "8 個細格變動（共 40），4 個區域：全國 2、縣市 2、鄉鎮市區 2、村里 2" in shown
    rows = [[text(c) for c in r["props"]["children"]] for r in components(tree, "Tr")]
    assert ["村里", "63000010001 臺北市中正區甲里", "2"] in rows
    assert ["00000 全國", "性比例", "", "200", "50", "-150"] in rows
    form = next(c for c in components(tree, "Form") if c["props"].get("id") == "releases-compare")
    assert form["props"]["method"] == "get" and form["props"]["action"] == "/releases"


def test_without_revisions_named_the_current_is_compared_with_the_one_before(site: dict) -> None:
    client = logged_in(site, "moi_official")
    assert "第 2 版與第 1 版比較" in text(releases_page(client, f"?period={PERIOD}"))


@pytest.mark.parametrize(("search", "said"), [
    (f"?period={PERIOD}&old=1&new=9", "沒有第 9 版（有：1, 2）"),
    (f"?period={PERIOD}&old=x", "版次須為數字"),
    (f"?period={PERIOD}&old=2&new=2", "請選兩個不同的版次"),
    ("?period=1999-01", "1999-01 沒有兩個以上的版次可比較"),
])
def test_a_wrong_choice_is_said_not_a_failure(site: dict, search: str, said: str) -> None:
    client = logged_in(site, "moi_official")
    assert said in text(releases_page(client, search))


def test_agencies_get_no_comparison(site: dict) -> None:
    client = logged_in(site, "national_user")
    shown = text(releases_page(client, f"?period={PERIOD}&old=1&new=2"))
    assert "比較" not in shown and "細格變動" not in shown
