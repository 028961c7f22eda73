"""The builder's preview shows a cell's r/p mark after its figure, as the XLSX file does, with
the footnote saying what the mark means (issue 13: marks in every rendering with room)."""

from __future__ import annotations

import json

import polars as pl
from flask import Flask

from dashboards.builder.view import preview_table
from dashboards.i18n import LANG_COOKIE
from stats.query import QueryResult, parse_query
from stats.query_marks import query_marks


def result(values: list[int]) -> QueryResult:
    query = parse_query({"table": "population", "periods": ["2025-03"], "area_level": "county",
                         "areas": ["63000", "64000"], "measures": ["population"],
                         "labels": "codes"})
    frame = pl.DataFrame({"area_code": ["63000", "64000"], "period": ["2025-03"] * 2,
                          "population": values})
    return QueryResult(query, frame, {"2025-03": 2})


def shown(lang: str, now: QueryResult, marks: pl.DataFrame | None) -> str:
    with Flask(__name__).test_request_context(headers={"Cookie": f"{LANG_COOKIE}={lang}"}):
        component = preview_table(now, "caption", marks)
        return json.dumps(component.to_plotly_json(), ensure_ascii=False, default=plain)


def plain(value: object) -> object:
    """A Dash component nested in another, as the page receives it."""
    return value.to_plotly_json()


def test_a_revised_cell_is_marked_r_and_the_footnote_says_so():
    now, before = result([2_600_000, 2_700_000]), result([2_600_000, 2_699_000])
    marks = query_marks(now, before)
    assert marks is not None
    zh = shown("zh", now, marks)
    assert "2,600,000 r" not in zh and "2,700,000 r" in zh and "修正數" in zh
    assert "revised" in shown("en", now, marks)


def test_a_provisional_period_marks_every_cell_p():
    now = result([2_600_000, 2_700_000])
    marks = query_marks(now, now, provisional={"2025-03"})
    text = shown("zh", now, marks)
    assert "2,600,000 p" in text and "2,700,000 p" in text


def test_no_mark_no_footnote():
    now = result([2_600_000, 2_700_000])
    assert query_marks(now, now) is None
    text = shown("zh", now, None)
    assert "2,600,000" in text and " r" not in text and "修正數" not in text
