"""Table builder (``/builder``) and the download route, through crafted callbacks and real
requests: the builder edits a query document (CONTRACT §7); previews and delivered files are
that query's result, checked against the release files summed by hand; every request
outside the grant is refused and audited; the permalink restores what the reader may see."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from datetime import timedelta

import openpyxl
import polars as pl
import pytest
from sqlalchemy import func, select

from access.models import Delivery
from dashboards.builder.form import encode
from dashboards.i18n import LANG_COOKIE
from stats.catalogue import TABLES
from stats.query import measures_of, parse_query
from stats.schemas import TABLE_KEYS
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    db_session,
    dropdown,
    logged_in,
    page,
    payload,
    table_rows,
    text,
    text_of,
)

PERIOD = "2025-03"
MONTHS = ("2025-01", "2025-02", "2025-03")
FORM = ("builder-table", "builder-kind", "builder-period-mode", "builder-period-from",
        "builder-period", "builder-periods", "builder-level", "builder-within", "builder-areas",
        "builder-keep", "builder-measures", "builder-bands", "builder-heading", "builder-labels")
REFRESH = [("builder-query-json", "children"), ("builder-curl", "children"),
           ("builder-permalink", "href"), ("builder-preview", "children")]


def form(table: str = "population", *, first: str = PERIOD, last: str = PERIOD,
         picks: list[str] | None = None, level: str = "county", within: str | None = None,
         areas: list[str] | None = None, keep: list[str] | None = None,
         measures: list[str] | None = None, bands: str = "single",
         heading: list[str] | None = None, labels: str = "codes", kind: str = "month") -> list:
    """The builder's control values, in ``FORM``'s order."""
    return [table, kind, "pick" if picks else "range", first, last, picks or [], level, within,
            areas or [], keep or [], measures or [], bands,
            ["measure"] if heading is None else heading, labels]


def preview_payload(values: list) -> dict:
    return payload(REFRESH, [(i, "value", v) for i, v in zip(FORM, values, strict=True)])


def picked(table: str, level: str, areas: list[str], dimensions: list[str]) -> list:
    """The controls for a table, a level, areas and a list of kept keys and measures (with
    ``age_5y``/``age_broad`` for age in bands), one month, codes, measures across."""
    keys = [k for k in TABLE_KEYS.get(table, []) if k in dimensions
            or (k == "age" and {"age_5y", "age_broad"} & set(dimensions))]
    bands = "5y" if "age_5y" in dimensions else "broad" if "age_broad" in dimensions else "single"
    return form(table, level=level, areas=areas, keep=keys, bands=bands,
                measures=[d for d in dimensions if d in measures_of(table)])


def submit_payload(values: list | str, level: str | None = None, areas: list[str] | None = None,
                   dimensions: list[str] | None = None, channel: str = "file_transfer",
                   fmt: str = "csv", encoding: str = "utf-8-sig") -> dict:
    """A submit of the controls ``values`` (or of ``picked(table, level, areas, dimensions)``
    when ``values`` is a table's name)."""
    if isinstance(values, str):
        values = picked(values, str(level), areas or [], dimensions or [])
    state = [(i, "value", v) for i, v in zip(FORM, values, strict=True)]
    state += [("builder-channel", "value", channel), ("builder-format", "value", fmt),
              ("builder-encoding", "value", encoding)]
    return payload([("builder-status", "children")], [("builder-submit", "n_clicks", 1)], state)


def refreshed(answer) -> dict:
    """The refresh callback's outputs by id."""
    response = answer.get_json()["response"]
    return {"json": response["builder-query-json"]["children"],
            "curl": response["builder-curl"]["children"],
            "link": response["builder-permalink"]["href"],
            "preview": response["builder-preview"]["children"]}


def release(served: dict, table: str, period: str = PERIOD) -> pl.DataFrame:
    return pl.read_parquet(served["releases"] / period / f"{table}.parquet")


def names(served: dict, period: str = PERIOD) -> pl.DataFrame:
    return pl.read_parquet(served["releases"] / period / "areas.parquet")


def link_of(answer) -> str:
    """The href of ``builder-file-link`` in a submit answer."""
    (link,) = [c for c in components(answer.get_json(), "A")
               if c["props"].get("id") == "builder-file-link"]
    return link["props"]["href"]


def delivery_count(served: dict) -> int:
    with db_session(served) as s:
        return s.scalar(select(func.count()).select_from(Delivery))


def by_sex(served: dict, period: str, level: str, prefix: str) -> dict[tuple[str, int], int]:
    """population_by_age summed over age by hand: (area_code, sex) -> population."""
    rows = (release(served, "population_by_age", period)
            .filter(pl.col("area_level") == level, pl.col("area_code").str.starts_with(prefix))
            .group_by("area_code", "sex").agg(pl.col("population").sum()))
    return {(r["area_code"], r["sex"]): r["population"] for r in rows.iter_rows(named=True)}


# --- preview -----------------------------------------------------------------------------

def test_preview_rows_equal_the_release_filtered_by_hand(served):
    """Taipei's townships, two of four measures, codes: the release file, filtered."""
    answer = call(logged_in(served, "taipei_user"), preview_payload(
        form(level="township", measures=["population", "male"], heading=["measure"])))
    rows = table_rows(answer)
    expected = release(served, "population").filter(
        pl.col("area_level") == "township", pl.col("area_code").str.starts_with("63000"))
    assert rows[0] == ["area_code", "period", "population", "male"]
    assert rows[1:] == [[r["area_code"], PERIOD, f"{r['population']:,}", f"{r['male']:,}"]
                        for r in expected.sort("area_code").iter_rows(named=True)]
    assert len(rows) == 1 + 12 and "總列數：12" in text_of(answer)


def test_three_months_by_township_and_sex_with_periods_across(served):
    """The issue's table at demo size: one row per township × sex, one column per month,
    each cell the release's population of that month summed over age by hand."""
    answer = call(logged_in(served, "taipei_user"), preview_payload(form(
        "population_by_age", first=MONTHS[0], last=MONTHS[-1], level="township",
        within="63000", keep=["sex"], measures=["population"], heading=["period", "measure"])))
    rows = table_rows(answer)
    # one header row per heading dimension; each column titled by its name in the file
    assert rows[:2] == [["", "", *MONTHS], ["area_code", "sex", *["population"] * 3]]
    titles = [c["props"].get("title") for c in components(answer.get_json(), "Th")][:5]
    assert titles == ["area_code", "sex", *(f"{m}|population" for m in MONTHS)]
    sums = {m: by_sex(served, m, "township", "63000") for m in MONTHS}
    codes = sorted({code for code, _ in sums[MONTHS[0]]})
    assert rows[2:] == [[code, str(sex), *(f"{sums[m][code, sex]:,}" for m in MONTHS)]
                        for code in codes for sex in (1, 2)]
    shown = text_of(answer)
    assert "此表共 24 列、72 個資料格" in shown and "總列數：24" in shown


def test_labels_in_chinese_and_english_with_one_header_row_per_heading_dimension(served):
    client = logged_in(served, "taipei_user")
    values = form("population_by_age", first=MONTHS[0], last=MONTHS[1], level="county",
                  keep=["sex"], measures=["population"], heading=["period", "sex"],
                  labels="zh-TW")
    rows = table_rows(call(client, preview_payload(values)))
    assert rows[0] == ["", "", "", "114年1月", "114年1月", "114年2月", "114年2月"]
    assert rows[1] == ["區域代碼", "區域名稱", "統計項目", "男", "女", "男", "女"]
    assert rows[2][:3] == ["63000", "臺北市", "人口數"]
    values[-1] = "en"
    rows = table_rows(call(client, preview_payload(values)))
    assert rows[0][3:] == ["Jan 2025", "Jan 2025", "Feb 2025", "Feb 2025"]
    assert rows[1] == ["Area code", "Area name", "Measure", "male", "female", "male", "female"]
    assert rows[2][1] == "Taipei City"
    titles = [c["props"].get("title") for c in components(call(client, preview_payload(
        values)).get_json(), "Th")][:3]  # the file's own column names
    assert titles == ["area_code", "area_name", "measure"]


def test_age_bands_sum_the_release_and_ages_across_give_the_single_age_layout(served):
    client = logged_in(served, "taipei_user")
    ages = release(served, "population_by_age").filter(pl.col("area_code") == "63000")

    def total(low: int, high: int) -> str:
        return f"{ages.filter(pl.col('age').is_between(low, high))['population'].sum():,}"

    banded = table_rows(call(client, preview_payload(form(
        "population_by_age", areas=["63000"], keep=["age"], measures=["population"],
        bands="broad", heading=["age"]))))
    assert banded == [["area_code", "period", "measure", "0-14", "15-64", "65+"],
                      ["63000", PERIOD, "population", total(0, 14), total(15, 64),
                       total(65, 100)]]
    single = table_rows(call(client, preview_payload(form(
        "population_by_age", areas=["63000"], keep=["sex", "age"], measures=["population"],
        heading=["age"]))))
    assert single[0] == ["area_code", "sex", "period", "measure", *map(str, range(101))]
    male = ages.filter(pl.col("sex") == 1).sort("age")["population"].to_list()
    assert single[1] == ["63000", "1", PERIOD, "population", *(f"{v:,}" for v in male)]


def test_a_pick_of_quarters_and_an_invalid_mix_is_explained(served):
    client = logged_in(served, "taipei_user")
    rows = table_rows(call(client, preview_payload(form(
        kind="quarter", picks=["2025-Q1"], areas=["63000"], measures=["population"],
        heading=["period"]))))
    q1 = release(served, "population", "2025-Q1").filter(pl.col("area_code") == "63000")
    assert rows == [["area_code", "measure", "2025-Q1"],
                    ["63000", "population", f"{q1['population'][0]:,}"]]
    mixed = text_of(call(client, preview_payload(form(picks=["2025-Q1", "2025-03"],
                                                       areas=["63000"]))))
    assert "此查詢無法建立" in mixed and "all of one kind" in mixed
    flat = text_of(call(client, preview_payload(form(areas=["63000"],
                                                      heading=["area", "period", "measure"]))))
    assert "此查詢無法建立" in flat and "stub: at least one dimension goes down" in flat


def test_too_large_a_table_is_refused_with_the_advice_to_split(served, monkeypatch):
    monkeypatch.setenv("POPSTATS_QUERY_MAX_CELLS", "100")
    client = logged_in(served, "taipei_user")
    values = form("population_by_age", first=MONTHS[0], last=MONTHS[-1], level="township",
                  keep=["sex"], measures=["population"], heading=["period"])
    fits = text_of(call(client, preview_payload(values)))
    assert "72 個資料格" in fits and "超過上限" not in fits
    values[9] = ["sex", "age"]  # 12 townships × 2 × 101 ages × 3 months
    shown = text_of(call(client, preview_payload(values)))
    assert "7,272 個資料格" in shown and "超過上限 100 個" in shown
    assert "請分成數個較小的查詢" in shown
    assert table_rows(call(client, preview_payload(values))) == []
    client.set_cookie(LANG_COOKIE, "en")
    shown = text_of(call(client, preview_payload(values)))
    assert "7,272 cells" in shown and "more than the limit of 100" in shown and "Split it" in shown


def test_the_saved_query_and_the_api_call_are_the_previewed_document(served):
    client = logged_in(served, "taipei_user")
    values = form("population_by_age", first=MONTHS[0], last=MONTHS[-1], level="township",
                  within="63000", keep=["sex"], measures=["population"], heading=["period"],
                  labels="zh-TW")
    out = refreshed(call(client, preview_payload(values)))
    doc = json.loads(out["json"])
    assert doc == {"table": "population_by_age", "periods": "2025-01..2025-03",
                   "area_level": "township", "within": "63000", "measures": ["population"],
                   "keep": ["sex"], "stub": ["area", "sex", "measure"], "heading": ["period"],
                   "labels": "zh-TW"}
    assert out["curl"].startswith("curl -sS -X POST -H 'Authorization: Bearer '")
    assert out["curl"].endswith(" http://localhost/api/v1/query")
    body = re.search(r"--data '(.*)' http", out["curl"]).group(1)
    assert json.loads(body) == doc
    assert out["link"] == f"/builder?q={encode(doc)}"
    parse_query(doc)  # a valid §7 document as it stands


@pytest.mark.parametrize(("username", "table", "area"), [
    ("taipei_user", "population", "64000"),  # another county
    ("taipei_user", "population", "00000"),  # the nation
    ("kaohsiung_user", "population", "64000"),  # own county, ungranted table
])
def test_crafted_preview_outside_the_grant_is_refused_and_audited(served, username, table, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    level = "national" if area == "00000" else "county"
    answer = call(client, preview_payload(form(table, level=level, areas=[area],
                                               measures=["population"])))
    assert answer.status_code == 200
    assert "您的授權不包含此資料表或地區" in text_of(answer) and table_rows(answer) == []
    refused = [d for a, d in audit_actions(served, username)[before:] if a == "access.refused"]
    assert len(refused) == 1 and f"{table}@{area}" in refused[0]


def test_made_up_codes_and_within_are_refused_against_the_releases_areas(served):
    client = logged_in(served, "taipei_user")
    before = len(audit_actions(served, "taipei_user"))
    for values in (form(level="township", areas=["63000999"]),
                   form(level="village", within="63000999")):
        answer = call(client, preview_payload(values))
        assert "您的授權不包含此資料表或地區" in text_of(answer) and table_rows(answer) == []
    refused = [d for a, d in audit_actions(served, "taipei_user")[before:]
               if a == "access.refused"]
    assert len(refused) == 2 and all("not an area of the release" in d for d in refused)


def test_kaohsiung_gets_vital_events_but_not_population(served):
    client = logged_in(served, "kaohsiung_user")
    births = call(client, preview_payload(form("vital_events", measures=["births"])))
    expected = release(served, "vital_events").filter(pl.col("area_code") == "64000")
    assert table_rows(births)[1] == ["64000", PERIOD, f"{expected['births'][0]:,}"]
    refused = call(client, preview_payload(form("population", measures=["population"])))
    assert table_rows(refused) == [] and "您的授權不包含" in text_of(refused)


def test_builder_layout_offers_only_granted_tables_and_channels(served):
    tree = page(logged_in(served, "kaohsiung_user"), "/builder")
    tables = dropdown(tree, "builder-table")
    enabled = [o["value"] for o in tables["options"] if not o["disabled"]]
    assert enabled == ["vital_events"] and tables["value"] == "vital_events"
    (channels,) = [c for c in components(tree, "RadioItems")
                   if c["props"]["id"] == "builder-channel"]
    assert [o["value"] for o in channels["props"]["options"]] == ["file_transfer",
                                                                  "media_exchange"]
    labels = {c["props"]["htmlFor"] for c in components(tree, "Label")}
    assert {"builder-table", "builder-areas", "builder-within", "builder-keep",
            "builder-measures", "builder-heading", "builder-format", "builder-period",
            "builder-period-from", "builder-periods", "builder-labels"} <= labels
    (info,) = [c for c in components(tree, "Link") if c["props"]["id"] == "builder-table-info"]
    assert info["props"]["href"] == "/tables?table=vital_events"  # the table's own page
    formats = [o["value"] for o in dropdown(tree, "builder-format")["options"]]
    assert "moi" not in formats and "xlsx" in formats  # MOI's layout is a release table's


def area_payload(table: str, level: str, within: str | None, chosen: list[str]) -> dict:
    return payload([("builder-within", "options"), ("builder-within", "value"),
                    ("builder-areas", "options"), ("builder-areas", "value")],
                   [("builder-table", "value", table), ("builder-level", "value", level),
                    ("builder-period", "value", PERIOD), ("builder-periods", "value", []),
                    ("builder-within", "value", within)],
                   [("builder-areas", "value", chosen)])


def test_areas_offered_are_the_granted_ones_at_the_level(served):
    client = logged_in(served, "taipei_user")
    result = call(client, area_payload("population", "township", None,
                                       ["64000010", "63000010"])).get_json()["response"]
    codes = [o["value"] for o in result["builder-areas"]["options"]]
    assert len(codes) == 12 and all(c.startswith("63000") and len(c) == 8 for c in codes)
    assert result["builder-areas"]["value"] == ["63000010"]  # the crafted 64000010 dropped
    assert [o["value"] for o in result["builder-within"]["options"]] == ["63000"]
    # villages: all of 大安區 (63000030) offered as a parent, the picks narrowed to it
    result = call(client, area_payload("population", "village", "63000030",
                                       [])).get_json()["response"]
    parents = [o["value"] for o in result["builder-within"]["options"]]
    assert parents[0] == "63000" and "63000030" in parents and len(parents) == 13
    villages = [o["value"] for o in result["builder-areas"]["options"]]
    assert villages and all(v.startswith("63000030") and len(v) == 11 for v in villages)
    crafted = call(client, area_payload("population", "village", "64000", [])).get_json()
    assert crafted["response"]["builder-within"]["value"] is None  # not offered: dropped


def test_areas_offered_are_named_in_the_readers_language(served):
    client = logged_in(served, "taipei_user")
    body = area_payload("population", "township", None, [])
    labels = {o["value"]: o["label"] for o in
              call(client, body).get_json()["response"]["builder-areas"]["options"]}
    assert labels["63000010"] == "臺北市松山區 (63000010)"
    client.set_cookie(LANG_COOKIE, "en")
    labels = {o["value"]: o["label"] for o in
              call(client, body).get_json()["response"]["builder-areas"]["options"]}
    assert labels["63000010"].startswith("Songshan District") and "(63000010)" in labels[
        "63000010"]


def test_choosing_a_table_offers_its_own_levels_keys_measures_and_page(served):
    client = logged_in(served, "taipei_user")
    outputs = [("builder-level", "options"), ("builder-level", "value"),
               ("builder-keep", "options"), ("builder-keep", "value"),
               ("builder-measures", "options"), ("builder-measures", "value"),
               ("builder-bands-box", "style"), ("builder-channel", "options"),
               ("builder-channel", "value"), ("builder-table-info", "href")]
    body = payload(outputs, [("builder-table", "value", "population_by_marital_status")],
                   [("builder-level", "value", "village"), ("builder-keep", "value", ["age"]),
                    ("builder-measures", "value", ["population"])])
    got = call(client, body).get_json()["response"]
    assert [o["value"] for o in got["builder-level"]["options"]] == ["national", "county",
                                                                     "township"]
    assert got["builder-level"]["value"] == "national"  # villages: not in this table
    assert got["builder-keep"]["value"] == ["sex", "marital_status"]  # age: not a key here
    assert got["builder-measures"]["value"] == ["population"]
    assert got["builder-bands-box"]["style"] == {"display": "none"}
    assert got["builder-table-info"]["href"] == "/tables?table=population_by_marital_status"


def test_transpose_swaps_down_and_across(served):
    client = logged_in(served, "taipei_user")
    body = payload([("builder-heading", "options"), ("builder-heading", "value")],
                   [("builder-table", "value", "population_by_age"),
                    ("builder-keep", "value", ["sex"]), ("builder-transpose", "n_clicks", 1)],
                   [("builder-heading", "value", ["period"])])
    body["changedPropIds"] = ["builder-transpose.n_clicks"]
    result = call(client, body).get_json()["response"]["builder-heading"]
    assert [o["value"] for o in result["options"]] == ["area", "sex", "period", "measure"]
    assert result["value"] == ["area", "sex", "measure"]


# --- the permalink -----------------------------------------------------------------------

def _values(tree: dict) -> dict:
    found = {}
    for kind in ("Dropdown", "RadioItems", "Checklist"):
        for c in components(tree, kind):
            found[c["props"]["id"]] = c["props"].get("value")
    return found


def test_the_permalink_restores_the_selection(served):
    doc = {"table": "population_by_age", "periods": ["2025-01", "2025-03"],
           "area_level": "township", "areas": ["63000010", "63000030"], "keep": ["sex", "age"],
           "age_bands": [[0, 14], [15, 64], [65, 100]], "measures": ["population"],
           "stub": ["area", "period", "measure"], "heading": ["sex", "age_band"],
           "labels": "en"}
    tree = page(logged_in(served, "taipei_user"), "/builder", f"?q={encode(doc)}")
    got = _values(tree)
    assert got["builder-table"] == "population_by_age"
    assert got["builder-period-mode"] == "pick" and got["builder-periods"] == ["2025-01",
                                                                               "2025-03"]
    assert got["builder-level"] == "township" and got["builder-areas"] == ["63000010",
                                                                           "63000030"]
    assert got["builder-keep"] == ["sex", "age"] and got["builder-bands"] == "broad"
    assert got["builder-heading"] == ["sex", "age"] and got["builder-labels"] == "en"
    (note,) = [c for c in components(tree, "Div") if c["props"].get("id") == "builder-note"]
    assert note["props"]["children"] == []  # nothing left out
    ranged = dict(doc, periods="2025-01..2025-03", areas=None, within="63000")
    ranged = {k: v for k, v in ranged.items() if v is not None}
    got = _values(page(logged_in(served, "taipei_user"), "/builder", f"?q={encode(ranged)}"))
    assert (got["builder-period-mode"], got["builder-period-from"], got["builder-period"]) == (
        "range", "2025-01", "2025-03")
    assert got["builder-within"] == "63000"


def test_a_permalink_outside_the_readers_grant_gives_what_the_grant_allows(served):
    doc = {"table": "population", "periods": PERIOD, "area_level": "county",
           "areas": ["64000", "63000"], "labels": "codes"}
    tree = page(logged_in(served, "taipei_user"), "/builder", f"?q={encode(doc)}")
    assert _values(tree)["builder-areas"] == ["63000"]
    (note,) = [c for c in components(tree, "Div") if c["props"].get("id") == "builder-note"]
    assert "1 個地區不在您的授權範圍內，已略去" in text(note)
    within = {**{k: v for k, v in doc.items() if k != "areas"}, "within": "64000",
              "area_level": "township"}
    tree = page(logged_in(served, "taipei_user"), "/builder", f"?q={encode(within)}")
    assert _values(tree)["builder-within"] is None
    assert "不在您的授權範圍內" in json.dumps(tree, ensure_ascii=False)
    table = page(logged_in(served, "kaohsiung_user"), "/builder", f"?q={encode(doc)}")
    assert _values(table)["builder-table"] == "vital_events"
    assert "不在您的授權範圍內" in json.dumps(table, ensure_ascii=False)
    broken = page(logged_in(served, "taipei_user"), "/builder", "?q=not-a-query")
    assert "連結中的查詢無效" in json.dumps(broken, ensure_ascii=False)


# --- file transfer -----------------------------------------------------------------------

def test_csv_delivery_in_cp950_is_the_previewed_table(private):
    client = logged_in(private, "taipei_user")
    values = form(level="township", areas=["63000010", "63000020"],
                  measures=["households", "population"], heading=["measure"])
    answer = call(client, submit_payload(values, encoding="cp950"))
    status = text_of(answer)
    assert "交付編號" in status and "檔案傳輸" in status and "已完成" in status
    href = link_of(answer)
    assert re.fullmatch(r"/deliveries/[0-9a-f]{32}/file", href)
    got = client.get(href, buffered=True)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "_township_" in got.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(got.data.decode("cp950"))))
    preview = table_rows(call(client, preview_payload(values)))
    assert rows[0] == preview[0] == ["area_code", "period", "households", "population"]
    expected = release(private, "population").filter(
        pl.col("area_code").is_in(["63000010", "63000020"])).sort("area_code")
    assert rows[1:] == [[r["area_code"], PERIOD, str(r["households"]), str(r["population"])]
                        for r in expected.iter_rows(named=True)]
    assert [[c.replace(",", "") for c in r] for r in preview[1:]] == rows[1:]
    with db_session(private) as s:
        delivery = s.get(Delivery, href.split("/")[2])
        assert delivery.expires_at - delivery.delivered_at == timedelta(days=7)
        assert delivery.options["query"]["measures"] == ["households", "population"]
        assert delivery.options["revisions"] == {PERIOD: 1}
    assert "download" in [a for a, _ in audit_actions(private, "taipei_user")]


def test_xlsx_of_three_months_by_township_and_sex_equals_the_releases(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload(form(
        "population_by_age", first=MONTHS[0], last=MONTHS[-1], level="township",
        within="63000", keep=["sex"], measures=["population"], heading=["period"],
        labels="zh-TW"), fmt="xlsx"))
    got = client.get(link_of(answer), buffered=True)
    assert got.status_code == 200
    assert re.search(r"_2025-01_2025-03_township_r1\.xlsx", got.headers["Content-Disposition"])
    sheet = openpyxl.load_workbook(io.BytesIO(got.data), read_only=True)["data"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["area_code", "area_name", "sex", "measure", "114年1月", "114年2月",
                       "114年3月"]
    sums = {m: by_sex(private, m, "township", "63000") for m in MONTHS}
    named = dict(names(private).select("area_code", "area_name").iter_rows())
    codes = sorted({code for code, _ in sums[MONTHS[0]]})
    assert rows[1:] == [[code, named[code], label, "人口數", *(sums[m][code, sex] for m in MONTHS)]
                        for code in codes for sex, label in ((1, "男"), (2, "女"))]


def test_media_package_zip_holds_the_manifest_files_and_verifies(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload(form("vital_events", areas=["63000"],
                                              measures=["births", "deaths"]),
                                         channel="media_exchange"))
    assert "媒體交換" in text_of(answer)
    got = client.get(link_of(answer), buffered=True)
    assert got.status_code == 200 and got.headers["Content-Disposition"].endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    folder = link_of(answer).split("/")[2]
    files = {n.removeprefix(f"{folder}/"): archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    listed = {name for f in manifest["files"] for name in (f["file"], f.get("metadata")) if name}
    assert set(files) == {*listed, "manifest.json", "README.txt", "SHA256SUMS"}
    assert len(listed) == 2  # the CSV and its CSVW description
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert manifest["query"]["measures"] == ["births", "deaths"]
    assert manifest["revisions"] == {PERIOD: 1}


def test_crafted_submit_for_another_county_is_refused_audited_and_makes_nothing(private):
    client = logged_in(private, "taipei_user")
    before = delivery_count(private)
    answer = call(client, submit_payload(form(areas=["64000"], measures=["population"])))
    assert "未建立任何下載" in text_of(answer) and "builder-file-link" not in text_of(answer)
    assert delivery_count(private) == before
    refused = [d for a, d in audit_actions(private, "taipei_user") if a == "access.refused"]
    assert refused and "population@64000" in refused[-1]


def test_kaohsiung_cannot_have_population_delivered(private):
    client = logged_in(private, "kaohsiung_user")
    answer = call(client, submit_payload(form(areas=["64000"], measures=["population"])))
    assert "未建立任何下載" in text_of(answer) and delivery_count(private) == 0
    refused = [d for a, d in audit_actions(private, "kaohsiung_user") if a == "access.refused"]
    assert refused and "population@64000" in refused[-1]
    made = call(client, submit_payload(form("vital_events", areas=["64000"],
                                            measures=["births"])))
    assert "已完成" in text_of(made) and delivery_count(private) == 1


def test_too_large_a_download_is_refused_before_anything_is_made(private, monkeypatch):
    monkeypatch.setenv("POPSTATS_QUERY_MAX_CELLS", "1000")
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload(form("population_by_age", level="township",
                                              keep=["sex", "age"], measures=["population"])))
    assert "超過上限 1,000 個" in text_of(answer) and delivery_count(private) == 0


def test_an_unencodable_character_is_named_and_nothing_is_made(private, monkeypatch):
    """A Taipei township named with 𠀋 (U+2000B, outside CP950): the writer's error, listing
    the character, and no delivery at all."""
    import stats.query_source

    real = stats.query_source.area_names

    def with_rare_name(folders):
        frame = real(folders)
        return frame.with_columns(pl.when(pl.col("area_code") == "63000010")
                                  .then(pl.lit("臺北市松山區𠀋"))
                                  .otherwise(pl.col("area_name")).alias("area_name"))

    monkeypatch.setattr(stats.query_source, "area_names", with_rare_name)
    client = logged_in(private, "taipei_user")
    values = form(level="township", areas=["63000010"], measures=["population"],
                  labels="zh-TW")
    answer = call(client, submit_payload(values, encoding="cp950"))
    shown = text_of(answer)
    assert "無法以所選格式或編碼寫出此檔案" in shown and "𠀋 (U+2000B)" in shown
    assert "builder-file-link" not in shown and delivery_count(private) == 0
    assert "delivery.unwritable" in [a for a, _ in audit_actions(private, "taipei_user")]
    outbox = private["outbox"]
    assert not outbox.exists() or not any(outbox.iterdir())  # nothing half-written is left
    from access import audit

    with db_session(private) as s:  # the entries taken back left no gap in the chain
        assert audit.verify(s).ok
    fine = call(client, submit_payload(values, encoding="utf-8"))  # UTF-8 holds it
    assert "builder-file-link" in text_of(fine)


def test_a_provider_side_failure_stays_pending_and_the_retry_reproduces_the_query(
        private, monkeypatch):
    from access import packages, query_files

    real = query_files.write_query

    def down(*args, **kwargs):
        raise OSError("release store unavailable")

    monkeypatch.setattr(query_files, "write_query", down)
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload(form(areas=["63000"], measures=["female"])))
    shown = text_of(answer)
    assert "處理中" in shown and "release store unavailable" in shown
    assert "builder-file-link" not in shown
    monkeypatch.setattr(query_files, "write_query", real)
    with db_session(private) as s:
        (done,) = packages.retry(s, private["clock"].now())
        s.commit()
        delivery_id = done.id
    got = client.get(f"/deliveries/{delivery_id}/file", buffered=True)
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    female = release(private, "population").filter(pl.col("area_code") == "63000")["female"][0]
    assert rows == [["area_code", "period", "female"], ["63000", PERIOD, str(female)]]


def test_moi_layout_and_unknown_channels_are_refused_before_anything_is_made(private):
    client = logged_in(private, "taipei_user")
    values = form("population_by_age", areas=["63000"], keep=["age"], measures=["population"],
                  bands="broad")
    shown = text_of(call(client, submit_payload(values, fmt="moi")))
    assert "format: one of" in shown and "moi" not in shown.split("format: one of")[1][:200]
    shown = text_of(call(client, submit_payload(values, channel="online_query")))
    assert "channel: one of file_transfer, media_exchange" in shown
    assert delivery_count(private) == 0


# --- the download route ------------------------------------------------------------------

def test_download_link_owner_other_agency_expiry_and_path_like_ids(private):
    owner = logged_in(private, "taipei_user")
    href = link_of(call(owner, submit_payload(form(areas=["63000"], measures=["population"]))))
    other = logged_in(private, "national_user")
    assert other.get(href, buffered=True).status_code == 404
    assert "download.refused" in [a for a, _ in audit_actions(private, "national_user")]
    before = len(audit_actions(private, "taipei_user"))
    for crafted in ("/deliveries/../x/file", "/deliveries/..%2Fx/file",
                    "/deliveries/ABCDEF/file", f"/deliveries/{href.split('/')[2].upper()}/file"):
        assert owner.get(crafted, buffered=True).status_code == 404, crafted
    # refused on their form alone, before the database: no lookup, so no audit entry either
    assert len(audit_actions(private, "taipei_user")) == before
    assert owner.get(href, buffered=True).status_code == 200
    private["clock"].advance(days=7)
    late = logged_in(private, "taipei_user")  # the old session went idle meanwhile
    gone = late.get(href, buffered=True)
    assert gone.status_code == 410 and "point 17" in gone.get_data(as_text=True)
    assert "delivery.expired" in [a for a, _ in audit_actions(private, "taipei_user")]


def test_download_needs_a_login(served):
    answer = served["app"].test_client().get("/deliveries/" + "0" * 32 + "/file")
    assert answer.status_code == 401


# --- provider staff ----------------------------------------------------------------------

def test_staff_file_is_for_its_maker_only_and_kept_one_day(private):
    official = logged_in(private, "moi_official")
    answer = call(official, submit_payload(form("indicators", areas=["63000", "64000"],
                                                measures=["sex_ratio"])))
    shown = text_of(answer)
    assert "保存 1 天" in shown and "檔案編號" in shown
    href = link_of(answer)
    got = official.get(href, buffered=True)
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    ratios = (release(private, "indicators").filter(pl.col("area_code").is_in(["63000", "64000"]))
              .sort("area_code")["sex_ratio"].to_list())
    assert rows[0] == ["area_code", "period", "sex_ratio"]
    assert [r[0] for r in rows[1:]] == ["63000", "64000"]
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(ratios, rel=1e-12)
    actions = [a for a, _ in audit_actions(private, "moi_official")]
    assert "staff_export.created" in actions and "download" in actions
    assert logged_in(private, "taipei_official").get(href, buffered=True).status_code == 404
    assert logged_in(private, "taipei_user").get(href, buffered=True).status_code == 404
    private["clock"].advance(days=1)
    assert logged_in(private, "moi_official").get(href, buffered=True).status_code == 410


def test_county_official_builds_only_in_the_own_county(private):
    official = logged_in(private, "taipei_official")
    answer = call(official, submit_payload(form(areas=["64000"], measures=["population"])))
    assert "未建立任何下載" in text_of(answer)
    assert "access.refused" in [a for a, _ in audit_actions(private, "taipei_official")]


@pytest.mark.parametrize(("username", "tables", "channels"), [  # the demo grants every table
    ("moi_official", len(TABLES), ["file_transfer"]),  # staff: their own 1-day file
    ("national_user", len(TABLES), ["file_transfer", "media_exchange"]),
    ("taipei_user", len(TABLES), ["file_transfer", "media_exchange"]),
    ("kaohsiung_user", 1, ["file_transfer", "media_exchange"]),
])
def test_every_role_gets_the_builder_with_what_its_grant_allows(served, username, tables,
                                                                 channels):
    tree = page(logged_in(served, username), "/builder")
    table = dropdown(tree, "builder-table")
    assert sum(not o["disabled"] for o in table["options"]) == tables
    assert len(table["options"]) == len(TABLES)
    (channel,) = [c for c in components(tree, "RadioItems")
                  if c["props"]["id"] == "builder-channel"]
    assert [o["value"] for o in channel["props"]["options"]] == channels
    assert components(tree, "Tr") == []  # controls only: rows arrive through the preview


def test_status_region_is_announced(served):
    tree = page(logged_in(served, "taipei_user"), "/builder")
    (status,) = [c for c in components(tree, "Div") if c["props"].get("id") == "builder-status"]
    assert status["props"]["aria-live"] == "polite"
    (button,) = [b for b in components(tree, "Button") if b["props"]["id"] == "builder-submit"]
    assert text(button) == "建立下載"  # one language: was "建立下載 / Create download"
    english = logged_in(served, "taipei_user")
    english.set_cookie(LANG_COOKIE, "en")
    (button,) = [b for b in components(page(english, "/builder"), "Button")
                 if b["props"]["id"] == "builder-submit"]
    assert text(button) == "Create download"
