"""Table builder (``/builder``) and the download route, through crafted callbacks and real
requests: previews equal the release files filtered by hand, delivered files read back equal
the selected rows, and every request outside the grant is refused and audited."""

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
from dashboards.i18n import LANG_COOKIE
from stats.catalogue import TABLES
from tests.dashboards.client import (
    audit_actions,
    call,
    components,
    db_session,
    logged_in,
    page,
    payload,
    table_rows,
    text,
    text_of,
)

PERIOD = "2025-03"
INPUTS = ("builder-table", "builder-period", "builder-level", "builder-areas",
          "builder-dimensions")
SUBMIT_STATE = (*INPUTS, "builder-channel", "builder-format", "builder-encoding")


def preview_payload(table: str, level: str, areas: list[str], dimensions: list[str],
                    period: str = PERIOD) -> dict:
    values = (table, period, level, areas, dimensions)
    return payload([("builder-preview", "children")],
                   [(i, "value", v) for i, v in zip(INPUTS, values, strict=True)])


def submit_payload(table: str, level: str, areas: list[str], dimensions: list[str],
                   channel: str = "file_transfer", fmt: str = "csv", encoding: str = "utf-8-sig",
                   period: str = PERIOD) -> dict:
    values = (table, period, level, areas, dimensions, channel, fmt, encoding)
    return payload([("builder-status", "children")], [("builder-submit", "n_clicks", 1)],
                   [(i, "value", v) for i, v in zip(SUBMIT_STATE, values, strict=True)])


def release(served: dict, table: str) -> pl.DataFrame:
    return pl.read_parquet(served["releases"] / PERIOD / f"{table}.parquet")


def names(served: dict) -> pl.DataFrame:
    return pl.read_parquet(served["releases"] / PERIOD / "areas.parquet")


def link_of(answer) -> str:
    """The href of ``builder-file-link`` in a submit answer."""
    (link,) = [c for c in components(answer.get_json(), "A")
               if c["props"].get("id") == "builder-file-link"]
    return link["props"]["href"]


def delivery_count(served: dict) -> int:
    with db_session(served) as s:
        return s.scalar(select(func.count()).select_from(Delivery))


# --- preview -----------------------------------------------------------------------------

def test_preview_rows_equal_the_release_filtered_by_hand(served):
    """Taipei's townships, two of four measures: the release file, filtered and formatted."""
    answer = call(logged_in(served, "taipei_user"),
                  preview_payload("population", "township", [], ["population", "male"]))
    rows = table_rows(answer)
    expected = (release(served, "population")
                .filter(pl.col("area_level") == "township",
                        pl.col("area_code").str.starts_with("63000"))
                .join(names(served), on=["area_level", "area_code"], how="left"))
    assert rows[0] == ["統計期", "區域層級", "區域代碼", "區域名稱", "人口數", "男性人口數"]
    assert rows[1:] == [[PERIOD, "鄉鎮市區", r["area_code"], r["area_name"],
                         f"{r['population']:,}", f"{r['male']:,}"]
                        for r in expected.iter_rows(named=True)]
    assert len(rows) == 1 + 12 and f"總列數：{expected.height}" in text_of(answer)


def test_preview_sums_a_dropped_dimension_into_age_bands(served):
    """Taipei county, sex dropped, ages 0-14 / 15-64 / 65+: three sums of the release."""
    answer = call(logged_in(served, "taipei_user"), preview_payload(
        "population_by_age", "county", ["63000"], ["age_broad", "population"]))
    ages = release(served, "population_by_age").filter(pl.col("area_code") == "63000")

    def total(low: int, high: int) -> str:
        return f"{ages.filter(pl.col('age').is_between(low, high))['population'].sum():,}"

    rows = table_rows(answer)
    assert rows[0][-2:] == ["年齡組", "人口數"]
    assert [r[-2:] for r in rows[1:]] == [["0-14", total(0, 14)], ["15-64", total(15, 64)],
                                          ["65+", total(65, 100)]]


def test_preview_shows_at_most_fifty_rows_and_the_total(served):
    answer = call(logged_in(served, "taipei_user"), preview_payload(
        "population_by_age", "county", ["63000"], ["sex", "age", "population"]))
    assert len(table_rows(answer)) == 1 + 50
    assert "總列數：202" in text_of(answer)  # 2 sexes × ages 0…100


def test_preview_in_english(served):
    client = logged_in(served, "taipei_user")
    client.set_cookie("popstats_lang", "en")
    answer = call(client, preview_payload("population_by_age", "county", ["63000"],
                                          ["sex", "age_broad", "population"]))
    rows = table_rows(answer)
    assert rows[0] == ["Period", "Area level", "Area code", "Area name", "Sex", "Age group",
                       "Population"]
    assert rows[1][1] == "county/city" and rows[1][4] == "male"
    assert "Total rows: 6" in text_of(answer)


@pytest.mark.parametrize(("username", "table", "area"), [
    ("taipei_user", "population", "64000"),  # another county
    ("taipei_user", "population", "00000"),  # the nation
    ("kaohsiung_user", "population", "64000"),  # own county, ungranted table
])
def test_crafted_preview_outside_the_grant_is_refused_and_audited(served, username, table, area):
    client = logged_in(served, username)
    before = len(audit_actions(served, username))
    level = "national" if area == "00000" else "county"
    answer = call(client, preview_payload(table, level, [area], ["population"]))
    assert answer.status_code == 200
    assert "您的授權不包含此資料表或地區" in text_of(answer) and table_rows(answer) == []
    refused = [d for a, d in audit_actions(served, username)[before:] if a == "access.refused"]
    assert len(refused) == 1 and f"{table}@{area}" in refused[0]


def test_kaohsiung_gets_vital_events_but_not_population(served):
    client = logged_in(served, "kaohsiung_user")
    births = call(client, preview_payload("vital_events", "county", [], ["births"]))
    expected = release(served, "vital_events").filter(pl.col("area_code") == "64000")
    assert table_rows(births)[1][-1] == f"{expected['births'][0]:,}"
    refused = call(client, preview_payload("population", "county", [], ["population"]))
    assert table_rows(refused) == [] and "您的授權不包含" in text_of(refused)


def test_builder_layout_offers_only_granted_tables_and_channels(served):
    tree = page(logged_in(served, "kaohsiung_user"), "/builder")
    (tables,) = [c for c in components(tree, "Dropdown") if c["props"]["id"] == "builder-table"]
    enabled = [o["value"] for o in tables["props"]["options"] if not o["disabled"]]
    assert enabled == ["vital_events"] and tables["props"]["value"] == "vital_events"
    (channels,) = [c for c in components(tree, "RadioItems")
                   if c["props"]["id"] == "builder-channel"]
    assert [o["value"] for o in channels["props"]["options"]] == ["file_transfer",
                                                                  "media_exchange"]
    labels = {c["props"]["htmlFor"] for c in components(tree, "Label")}
    assert {"builder-table", "builder-areas", "builder-dimensions", "builder-format"} <= labels


def test_areas_offered_are_the_granted_ones_at_the_level(served):
    client = logged_in(served, "taipei_user")
    answer = call(client, payload([("builder-areas", "options"), ("builder-areas", "value")],
                                  [("builder-table", "value", "population"),
                                   ("builder-period", "value", PERIOD),
                                   ("builder-level", "value", "township")],
                                  [("builder-areas", "value", ["64000010", "63000010"])]))
    result = answer.get_json()["response"]
    codes = [o["value"] for o in result["builder-areas"]["options"]]
    assert len(codes) == 12 and all(c.startswith("63000") and len(c) == 8 for c in codes)
    assert result["builder-areas"]["value"] == ["63000010"]  # the crafted 64000010 dropped


def test_areas_offered_are_named_in_the_readers_language(served):
    from dashboards.i18n import LANG_COOKIE

    client = logged_in(served, "taipei_user")
    body = payload([("builder-areas", "options"), ("builder-areas", "value")],
                   [("builder-table", "value", "population"), ("builder-period", "value", PERIOD),
                    ("builder-level", "value", "township")], [("builder-areas", "value", [])])
    labels = {o["value"]: o["label"] for o in
              call(client, body).get_json()["response"]["builder-areas"]["options"]}
    assert labels["63000010"] == "臺北市松山區 (63000010)"
    client.set_cookie(LANG_COOKIE, "en")
    labels = {o["value"]: o["label"] for o in
              call(client, body).get_json()["response"]["builder-areas"]["options"]}
    assert labels["63000010"].startswith("Songshan District") and "(63000010)" in labels[
        "63000010"]


# --- file transfer -----------------------------------------------------------------------

def test_csv_delivery_in_cp950_reads_back_as_the_selected_rows(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population", "township", ["63000010", "63000020"],
                                         ["households", "population"], encoding="cp950"))
    status = text_of(answer)
    assert "交付編號" in status and "檔案傳輸" in status and "已完成" in status
    href = link_of(answer)
    assert re.fullmatch(r"/deliveries/[0-9a-f]{32}/file", href)
    got = client.get(href, buffered=True)
    assert got.status_code == 200
    assert got.headers["Content-Disposition"].startswith("attachment")
    assert "_township_" in got.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(got.data.decode("cp950"))))
    expected = (release(private, "population")
                .filter(pl.col("area_code").is_in(["63000010", "63000020"]))
                .join(names(private), on=["area_level", "area_code"], how="left"))
    assert rows[0] == ["period", "area_level", "area_code", "area_name", "households",
                       "population"]
    assert rows[1:] == [[PERIOD, "township", r["area_code"], r["area_name"],
                         str(r["households"]), str(r["population"])]
                        for r in expected.iter_rows(named=True)]
    # the kept-until date is 7 days on, and the download was audited
    with db_session(private) as s:
        delivery = s.get(Delivery, href.split("/")[2])
        assert delivery.expires_at - delivery.delivered_at == timedelta(days=7)
        assert delivery.options["selection"]["measures"] == ["households", "population"]
    assert "download" in [a for a, _ in audit_actions(private, "taipei_user")]


def test_xlsx_delivery_reads_back_with_openpyxl(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population_by_age", "county", ["63000"],
                                         ["sex", "age_5y", "population"], fmt="xlsx"))
    got = client.get(link_of(answer), buffered=True)
    assert got.status_code == 200 and got.headers["Content-Disposition"].endswith(".xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(got.data), read_only=True)["POP02"]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    columns = ["period", "area_level", "area_code", "area_name", "sex", "age_group",
               "population"]
    start = next(i for i, r in enumerate(rows) if list(r[:7]) == columns) + 1
    data = [r[:7] for r in rows[start:start + 42]]
    ages = release(private, "population_by_age").filter(pl.col("area_code") == "63000")

    def total(sex: int, low: int, high: int) -> int:
        return ages.filter(pl.col("sex") == sex, pl.col("age").is_between(low, high))[
            "population"].sum()

    bands = [(low, low + 4, f"{low}-{low + 4}") for low in range(0, 100, 5)] + [
        (100, 100, "100+")]
    assert data == [[PERIOD, "county", "63000", "臺北市", sex, label, total(sex, low, high)]
                    for sex in (1, 2) for low, high, label in bands]
    assert rows[start + 42][0] in (None, "附註 Notes")  # nothing more than the selection


def test_media_package_zip_holds_the_manifest_files_and_verifies(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("vital_events", "county", ["63000"],
                                         ["births", "deaths"], channel="media_exchange"))
    assert "媒體交換" in text_of(answer)
    got = client.get(link_of(answer), buffered=True)
    assert got.status_code == 200 and got.headers["Content-Disposition"].endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(got.data))
    folder = link_of(answer).split("/")[2]
    files = {n.removeprefix(f"{folder}/"): archive.read(n) for n in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    listed = {name for f in manifest["files"] for name in (f["file"], f.get("metadata")) if name}
    assert set(files) == {*listed, "manifest.json", "README.txt", "SHA256SUMS"}
    for line in files["SHA256SUMS"].decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(files[name]).hexdigest() == digest
    assert manifest["selection"]["measures"] == ["births", "deaths"]


def test_crafted_submit_for_another_county_is_refused_audited_and_makes_nothing(private):
    client = logged_in(private, "taipei_user")
    before = delivery_count(private)
    answer = call(client, submit_payload("population", "county", ["64000"], ["population"]))
    assert "未建立任何下載" in text_of(answer) and "builder-file-link" not in text_of(answer)
    assert delivery_count(private) == before
    refused = [d for a, d in audit_actions(private, "taipei_user") if a == "access.refused"]
    assert refused and "population@64000" in refused[-1]


def test_kaohsiung_cannot_have_population_delivered(private):
    client = logged_in(private, "kaohsiung_user")
    answer = call(client, submit_payload("population", "county", ["64000"], ["population"]))
    assert "未建立任何下載" in text_of(answer) and delivery_count(private) == 0
    refused = [d for a, d in audit_actions(private, "kaohsiung_user") if a == "access.refused"]
    assert refused and "population@64000" in refused[-1]
    made = call(client, submit_payload("vital_events", "county", ["64000"], ["births"]))
    assert "已完成" in text_of(made) and delivery_count(private) == 1


def test_an_unencodable_character_is_named_and_nothing_is_made(private, monkeypatch):
    """A Taipei township named with 𠀋 (U+2000B, outside CP950): the export's error, listing
    the character, and no delivery at all."""
    import exports.meta

    real = exports.meta.read_areas

    def with_rare_name(folder):
        frame = real(folder)
        return frame.with_columns(pl.when(pl.col("area_code") == "63000010")
                                  .then(pl.lit("臺北市松山區𠀋"))
                                  .otherwise(pl.col("area_name")).alias("area_name"))

    monkeypatch.setattr(exports.meta, "read_areas", with_rare_name)
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population", "township", ["63000010"],
                                         ["population"], encoding="cp950"))
    shown = text_of(answer)
    assert "無法以所選格式或編碼寫出此檔案" in shown and "𠀋 (U+2000B)" in shown
    assert "builder-file-link" not in shown and delivery_count(private) == 0
    assert "delivery.unwritable" in [a for a, _ in audit_actions(private, "taipei_user")]
    outbox = private["outbox"]
    assert not outbox.exists() or not any(outbox.iterdir())  # nothing half-written is left
    from access import audit

    with db_session(private) as s:  # the entries taken back left no gap in the chain
        assert audit.verify(s).ok
    # UTF-8 holds it
    fine = call(client, submit_payload("population", "township", ["63000010"], ["population"],
                                       encoding="utf-8"))
    assert "builder-file-link" in text_of(fine)


def test_a_provider_side_failure_stays_pending_and_the_retry_reproduces_the_selection(
        private, monkeypatch):
    from access import packages

    real = packages._write_table

    def down(*args, **kwargs):
        raise OSError("release store unavailable")

    monkeypatch.setattr(packages, "_write_table", down)
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population", "county", ["63000"], ["female"]))
    shown = text_of(answer)
    assert "處理中" in shown and "release store unavailable" in shown
    assert "builder-file-link" not in shown
    monkeypatch.setattr(packages, "_write_table", real)
    with db_session(private) as s:
        (done,) = packages.retry(s, private["clock"].now())
        s.commit()
        delivery_id = done.id
    got = client.get(f"/deliveries/{delivery_id}/file", buffered=True)
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    female = release(private, "population").filter(pl.col("area_code") == "63000")["female"][0]
    assert rows == [["period", "area_level", "area_code", "area_name", "female"],
                    [PERIOD, "county", "63000", "臺北市", str(female)]]


def test_bands_in_a_coded_format_are_refused_before_anything_is_made(private):
    client = logged_in(private, "taipei_user")
    answer = call(client, submit_payload("population_by_age", "county", ["63000"],
                                         ["age_broad", "population"], fmt="moi"))
    assert "cannot be written" in text_of(answer) and delivery_count(private) == 0


# --- the download route ------------------------------------------------------------------

def test_download_link_owner_other_agency_expiry_and_path_like_ids(private):
    owner = logged_in(private, "taipei_user")
    href = link_of(call(owner, submit_payload("population", "county", ["63000"],
                                              ["population"])))
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
    answer = call(official, submit_payload("indicators", "county", ["63000", "64000"],
                                           ["sex_ratio"]))
    shown = text_of(answer)
    assert "保存 1 天" in shown and "檔案編號" in shown
    href = link_of(answer)
    got = official.get(href, buffered=True)
    assert got.status_code == 200
    rows = list(csv.reader(io.StringIO(got.data.decode("utf-8-sig"))))
    ratios = (release(private, "indicators").filter(pl.col("area_code").is_in(["63000", "64000"]))
              ["sex_ratio"].to_list())
    assert [r[2] for r in rows[1:]] == ["63000", "64000"]
    assert [float(r[4]) for r in rows[1:]] == pytest.approx(ratios, rel=1e-12)
    actions = [a for a, _ in audit_actions(private, "moi_official")]
    assert "staff_export.created" in actions and "download" in actions
    assert logged_in(private, "taipei_official").get(href, buffered=True).status_code == 404
    assert logged_in(private, "taipei_user").get(href, buffered=True).status_code == 404
    private["clock"].advance(days=1)
    assert logged_in(private, "moi_official").get(href, buffered=True).status_code == 410


def test_county_official_builds_only_in_the_own_county(private):
    official = logged_in(private, "taipei_official")
    answer = call(official, submit_payload("population", "county", ["64000"], ["population"]))
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
    (table,) = [c for c in components(tree, "Dropdown") if c["props"]["id"] == "builder-table"]
    assert sum(not o["disabled"] for o in table["props"]["options"]) == tables
    assert len(table["props"]["options"]) == len(TABLES)
    (channel,) = [c for c in components(tree, "RadioItems")
                  if c["props"]["id"] == "builder-channel"]
    assert [o["value"] for o in channel["props"]["options"]] == channels
    assert components(tree, "Tr") == []  # controls only: rows arrive through the preview


def test_status_region_is_announced(served):
    tree = page(logged_in(served, "taipei_user"), "/builder")
    (status,) = [c for c in components(tree, "Div") if c["props"].get("id") == "builder-status"]
    assert status["props"]["aria-live"] == "polite"
    (button,) = components(tree, "Button")
    assert text(button) == "建立下載"  # one language: was "建立下載 / Create download"
    english = logged_in(served, "taipei_user")
    english.set_cookie(LANG_COOKIE, "en")
    (button,) = components(page(english, "/builder"), "Button")
    assert text(button) == "Create download"
