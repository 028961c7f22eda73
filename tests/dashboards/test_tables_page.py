"""The Tables page: every logged-in user reads every table's page, grant or not."""

from __future__ import annotations

import json

import pytest

from stats.catalogue import TABLES
from tests.dashboards.client import logged_in, page


def text(tree: dict) -> str:
    """Everything the page's layout holds, as text (no data is on these pages to hide)."""
    return json.dumps(tree, ensure_ascii=False)


@pytest.mark.parametrize("username", ["moi_official", "kaohsiung_user"])
def test_every_table_page_opens_for_any_logged_in_user(served: dict, username: str) -> None:
    client = logged_in(served, username)
    index = text(page(client, "/tables"))
    for name, spec in TABLES.items():
        assert spec.code in index
        shown = text(page(client, "/tables", f"?table={name}"))
        assert spec.title_zh in shown and "GET /api/v1/tables/" + name in shown
        for column in spec.columns:
            assert column.name in shown


def test_latest_publication_is_the_newest_public_period(served: dict) -> None:
    client = logged_in(served, "kaohsiung_user")
    shown = text(page(client, "/tables", "?table=population"))
    assert "114年第1季" in shown or "114年3月" in shown
    assert "2024-12" not in shown  # built but never published: agencies learn nothing of it


def test_a_table_no_release_holds_names_no_publication(served: dict) -> None:
    """The served releases are months and a quarter: no year, so no life table."""
    client = logged_in(served, "kaohsiung_user")
    shown = text(page(client, "/tables", "?table=life_table"))
    assert "尚無公布" in shown and "已公布" not in shown
