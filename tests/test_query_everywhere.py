"""CONTRACT §7 end to end: ``popstats query`` (every export format) and ``POST /api/v1/query``
give the same table for the same document; the answers sum up to the release tables; the
API's grant, publication and validation rules; ``GET /api/v1/tables`` with a range or list of
periods."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from access.db import make_engine, session_factory
from access.models import AuditEntry, Delivery
from dashboards.app import ServerSettings, create_app
from popstats.cli import main

BANDED = {"table": "population_by_age", "periods": "2025-01..2025-02",
          "area_level": "township", "within": "63000", "measures": ["population"],
          "keep": ["sex", "age"], "age_bands": [[0, 14], [15, 64], [65, 100]],
          "stub": ["area", "sex"], "heading": ["period", "age_band", "measure"],
          "labels": "codes"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("queries")
    releases, db = root / "releases", f"sqlite:///{root / 'access.db'}"

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("sample", "--out", str(root / "x"), "--scale", "0.002", "--start", "2025-01",
        "--months", "3")
    for period in ("2025-01", "2025-02", "2025-03", "2025-Q1"):
        run("build", "--input", str(root / "x"), "--period", period, "--out", str(releases))
    for period in ("2025-01", "2025-02"):
        run("publish", "--releases", str(releases), "--period", period, "--by", "stat")
    run("publish", "--releases", str(releases), "--period", "2025-03", "--by", "stat",
        "--at", "+3d")  # scheduled; 2025-Q1 stays a draft
    accounts = json.loads(run("demo-accounts", "--db", db, "--json"))
    app = create_app(ServerSettings(releases=releases, db_url=db, outbox=root / "outbox"))
    tokens = {(len(a["tables"]) > 1, tuple(a["areas"])): f"Bearer {a['token']}"
              for a in accounts if a["token"]}
    return {"root": root, "releases": releases, "db": db, "client": app.test_client(),
            "national": tokens[(True, ("00000",))], "taipei": tokens[(True, ("63000",))],
            "kaohsiung": tokens[(False, ("64000",))]}


def _spec(world: dict, doc: dict, name: str = "q.json") -> Path:
    path = world["root"] / name
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _cli(world: dict, doc: dict, fmt: str, *extra: str, suffix: str | None = None):
    out = world["root"] / f"out.{suffix or fmt}"
    out.unlink(missing_ok=True)
    result = CliRunner().invoke(main, ["query", "--spec", str(_spec(world, doc)), "--format",
                                       fmt, "--releases", str(world["releases"]), "--out",
                                       str(out), *extra])
    return result, out


def _post(world: dict, doc: object, who: str = "national", accept: str | None = None):
    headers = {"Authorization": world[who]} if who else {}
    if accept:
        headers["Accept"] = accept
    body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return world["client"].post("/api/v1/query", data=body, headers=headers,
                                content_type="application/json")


def _audit(world: dict) -> list[AuditEntry]:
    with session_factory(make_engine(world["db"]))() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def _release(world: dict, period: str, table: str) -> pl.DataFrame:
    return pl.read_parquet(world["releases"] / period / f"{table}.parquet")


# ---------------------------------------------------------------- same table everywhere


def test_cli_csv_and_api_json_and_csv_are_the_same_table(world):
    result, out = _cli(world, BANDED, "csv", "--encoding", "utf-8")
    assert result.exit_code == 0, result.output
    api = _post(world, BANDED)
    assert api.status_code == 200, api.get_json()
    body = api.get_json()
    assert set(body) == {"query", "columns", "rows", "revisions"}
    assert body["revisions"] == {"2025-01": 1, "2025-02": 1}
    assert body["query"]["age_bands"] == [[0, 14], [15, 64], [65, 100]]
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert rows[0] == body["columns"]
    assert [[str(v) for v in r] for r in body["rows"]] == rows[1:]
    as_csv = _post(world, BANDED, accept="text/csv")
    assert as_csv.status_code == 200 and as_csv.content_type.startswith("text/csv")
    assert as_csv.data == out.read_bytes()


def test_banded_multi_period_sums_equal_the_release(world):
    body = _post(world, BANDED).get_json()
    assert body["columns"][:2] == ["area_code", "sex"]
    assert len(body["columns"]) == 2 + 2 * 3  # 2 periods × 3 bands × 1 measure
    got = {(r[0], r[1]): dict(zip(body["columns"][2:], r[2:], strict=True))
           for r in body["rows"]}
    assert len(got) == 12 * 2  # Taipei's 12 districts × 2 sexes
    for period in ("2025-01", "2025-02"):
        table = _release(world, period, "population_by_age").filter(
            pl.col("area_level") == "township", pl.col("area_code").str.starts_with("63000"))
        for (code, sex), cells in got.items():
            mine = table.filter(pl.col("area_code") == code, pl.col("sex") == sex)
            for label, low, high in (("0-14", 0, 14), ("15-64", 15, 64), ("65+", 65, 100)):
                expected = mine.filter(pl.col("age").is_between(low, high))["population"].sum()
                assert cells[f"{period}|{label}|population"] == expected


def test_multi_area_pivoted_counties_equal_the_release(world):
    doc = {"table": "vital_events", "periods": ["2025-01", "2025-02"], "area_level": "county",
           "areas": ["63000", "64000"], "measures": ["births", "deaths"],
           "stub": ["measure", "area"], "heading": ["period"], "labels": "codes"}
    body = _post(world, doc).get_json()
    assert body["columns"] == ["measure", "area_code", "2025-01", "2025-02"]
    # §7: rows by area first, then measures as asked, whatever the stub's column order
    assert [r[:2] for r in body["rows"]] == [["births", "63000"], ["deaths", "63000"],
                                             ["births", "64000"], ["deaths", "64000"]]
    for measure, code, *cells in body["rows"]:
        for period, value in zip(("2025-01", "2025-02"), cells, strict=True):
            release = _release(world, period, "vital_events").filter(
                pl.col("area_level") == "county", pl.col("area_code") == code)
            assert value == release[measure].item()


def _expected_cells(world: dict, doc: dict) -> dict[tuple[str, str], float]:
    """(area_code, column) → value, from the API's JSON answer (codes)."""
    body = _post(world, doc).get_json()
    return {(r[0], c): v for r in body["rows"] for c, v in zip(body["columns"][1:], r[1:],
                                                               strict=True)}


FLAT_DOC = {"table": "population", "periods": "2025-01..2025-02", "area_level": "county",
            "within": "63000", "measures": ["population", "households"],
            "stub": ["area"], "heading": ["period", "measure"], "labels": "codes"}


@pytest.mark.parametrize("fmt", ["xlsx", "ods", "parquet", "sav", "dta"])
def test_every_flat_format_holds_the_api_table(world, fmt):
    result, out = _cli(world, FLAT_DOC, fmt)
    assert result.exit_code == 0, result.output
    api = _post(world, FLAT_DOC).get_json()
    if fmt == "xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(out, read_only=True)["data"]
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        columns, data = rows[0], rows[1:]
    elif fmt == "ods":
        from odf.opendocument import load
        from odf.table import Table, TableCell, TableRow
        from odf.teletype import extractText

        table = next(t for t in load(str(out)).spreadsheet.getElementsByType(Table)
                     if t.getAttribute("name") == "data")
        rows = [[extractText(c) for c in r.getElementsByType(TableCell)]
                for r in table.getElementsByType(TableRow)]
        columns, data = rows[0], [[r[0], *map(int, r[1:])] for r in rows[1:]]
    elif fmt == "parquet":
        frame = pl.read_parquet(out)
        columns, data = frame.columns, [list(r) for r in frame.iter_rows()]
        import pyarrow.parquet as pq

        meta = pq.read_schema(out).metadata
        assert json.loads(meta[b"popstats.revisions"]) == {"2025-01": 1, "2025-02": 1}
    else:
        import pyreadstat

        read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        frame, meta = read(str(out))
        # safe variable names; the real titles kept as variable labels
        assert list(frame.columns) == ["area_code", "v2", "v3", "v4", "v5"]
        columns = meta.column_labels
        data = [[r[0], *map(int, r[1:])] for r in frame.itertuples(index=False)]
    assert columns == api["columns"]
    assert data == api["rows"]


CUBE_DOC = {"table": "population_by_age", "periods": ["2025-01", "2025-02"],
            "area_level": "county", "areas": ["63000", "64000"], "measures": ["population"],
            "keep": ["sex"], "stub": ["area", "sex"], "heading": ["period", "measure"],
            "labels": "codes"}


def _api_cells(world: dict) -> dict[tuple[str, str, str], int]:
    """(area, sex, period) → population from the API's answer."""
    body = _post(world, CUBE_DOC).get_json()
    return {(r[0], str(r[1]), c.split("|")[0]): v for r in body["rows"]
            for c, v in zip(body["columns"][2:], r[2:], strict=True)}


def test_px_follows_the_query_stub_and_heading(world):
    from pyaxis import pyaxis

    result, out = _cli(world, CUBE_DOC, "px")
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8-sig")
    assert 'STUB="area","sex";' in text and 'HEADING="period","measure";' in text
    parsed = pyaxis.parse(str(out), encoding="utf-8-sig")
    frame = parsed["DATA"]
    got = {(r["area"], r["sex"], r["period"]): int(float(r["DATA"]))
           for r in frame.to_dict("records")}
    assert got == _api_cells(world)


def test_jsonstat_sdmx_and_netcdf_hold_the_same_cells(world):
    import xarray as xr
    from pyjstat import pyjstat

    expected = _api_cells(world)
    result, out = _cli(world, CUBE_DOC, "jsonstat", suffix="json")
    assert result.exit_code == 0, result.output
    with warnings.catch_warnings():  # pyjstat's own Dataset.write calls its deprecated helper
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = pyjstat.Dataset.read(out.read_text(encoding="utf-8")).write("dataframe",
                                                                             naming="id")
    assert {(r["area"], r["sex"], r["period"]): r["value"]
            for r in frame.to_dict("records")} == expected
    result, out = _cli(world, CUBE_DOC, "sdmx-csv", "--encoding", "utf-8", suffix="csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert {(r["AREA_CODE"], r["SEX"], r["PERIOD"]): int(r["OBS_VALUE"])
            for r in rows} == expected
    result, out = _cli(world, CUBE_DOC, "netcdf", suffix="nc")
    assert result.exit_code == 0, result.output
    with xr.open_dataset(out, engine="h5netcdf") as data:
        assert list(data["value"].dims) == ["area", "sex", "period", "measure"]
        for (area, sex, period), value in expected.items():
            cell = data["value"].sel(area=area, sex=sex, period=period, measure="population")
            assert int(cell) == value


def test_moi_layout_is_refused_and_nothing_written(world):
    result, out = _cli(world, CUBE_DOC, "moi", suffix="moi.csv")
    assert result.exit_code == 1 and "MOI's open-data layout" in result.output
    assert not out.exists()


# ---------------------------------------------------------------- refusals


INVALID = {"table": "indicators", "periods": ["2025-01", "2025-Q1"], "area_level": "planet",
           "keep": [], "labels": "klingon"}


def test_invalid_document_every_reason_cli_exit_2_and_api_400(world):
    result, out = _cli(world, INVALID, "csv")
    assert result.exit_code == 2 and not out.exists()
    answer = _post(world, INVALID)
    assert answer.status_code == 400
    problems = answer.get_json()["problems"]
    assert len(problems) == 3  # one kind of period, the level, the labels
    for problem in problems:
        assert problem in result.output
    assert any("one kind" in p for p in problems) and any("area_level" in p for p in problems)
    assert _post(world, b"{not json").status_code == 400
    assert _post(world, INVALID, who="").status_code == 400  # the document is checked first
    assert _post(world, FLAT_DOC, who="").status_code == 401


def test_a_query_outside_the_grant_is_403_and_audited(world):
    before = len(_audit(world))
    outside = {**FLAT_DOC, "within": "64000"}
    answer = _post(world, outside, who="taipei")
    assert answer.status_code == 403
    refused = [e for e in _audit(world)[before:] if e.action == "access.refused"]
    assert refused and "64000" in json.dumps(refused[-1].details)
    # a table outside the grant: Kaohsiung's agency has only vital_events
    assert _post(world, {**FLAT_DOC, "within": "64000"}, who="kaohsiung").status_code == 403
    # an explicit area list with one code outside
    assert _post(world, {**CUBE_DOC}, who="taipei").status_code == 403
    # without within or areas, only the granted areas are answered
    doc = {k: v for k, v in FLAT_DOC.items() if k != "within"}
    body = _post(world, doc, who="taipei").get_json()
    assert [r[0] for r in body["rows"]] == ["63000"]


def test_an_unpublished_period_is_403_for_agencies(world):
    before = len(_audit(world))
    answer = _post(world, {**FLAT_DOC, "periods": "2025-02..2025-03"})
    assert answer.status_code == 403 and "2025-03" in answer.get_json()["error"]
    assert any(e.action == "access.refused" for e in _audit(world)[before:])
    assert _post(world, {**FLAT_DOC, "periods": ["2025-Q1"]}).status_code == 403


def test_the_answer_is_recorded_as_a_delivery_with_its_checksum(world):
    answer = _post(world, FLAT_DOC)
    digest = hashlib.sha256(answer.data).hexdigest()
    assert answer.headers["X-Content-SHA256"] == digest
    with session_factory(make_engine(world["db"]))() as session:
        delivery = session.get(Delivery, answer.headers["X-Delivery-Id"])
        assert delivery.channel == "online_query" and delivery.sha256 == digest
        assert delivery.period == "2025-01..2025-02"
        assert delivery.options["query"]["within"] == "63000"
        assert delivery.options["revisions"] == {"2025-01": 1, "2025-02": 1}
        assert delivery.options["size"] == len(answer.data)
    entry = [e for e in _audit(world) if e.object == f"delivery:{delivery.id}"
             and e.action == "query"]
    assert entry and entry[0].details["sha256"] == digest


# ---------------------------------------------------------------- the command's own rules


def test_cli_embargo_rules_as_for_export(world):
    scheduled = {**FLAT_DOC, "periods": ["2025-03"]}
    result, out = _cli(world, scheduled, "csv")
    assert result.exit_code == 1 and "--embargoed" in result.output and not out.exists()
    result, out = _cli(world, scheduled, "csv", "--embargoed")
    assert result.exit_code == 0, result.output
    sidecar = json.loads((out.parent / f"{out.name}-metadata.json").read_text("utf-8"))
    assert sidecar["dc:title"][0]["@value"].startswith("【未公布，禁止外流至 ")
    assert sidecar["popstats:revisions"] == {"2025-03": 1}
    result, out = _cli(world, scheduled, "xlsx", "--embargoed")
    assert result.exit_code == 0, result.output
    from openpyxl import load_workbook

    info = dict(load_workbook(out, read_only=True)["metadata"].iter_rows(values_only=True))
    assert info["title_zh"].startswith("【未公布，禁止外流至 ")
    draft = {**FLAT_DOC, "periods": ["2025-Q1"]}
    result, out = _cli(world, draft, "xlsx")
    assert result.exit_code == 0 and "draft" in result.output
    info = dict(load_workbook(out, read_only=True)["metadata"].iter_rows(values_only=True))
    assert info["embargo_zh"] == "未公布，禁止外流"


def test_cli_refuses_too_many_cells_before_reading(world):
    # 1 county × 2 periods × 2 measures = 4 cells
    result, out = _cli(world, FLAT_DOC, "csv", "--max-cells", "3")
    assert result.exit_code == 1 and "split" in result.output and "4 cells" in result.output
    assert not out.exists()
    result, out = _cli(world, FLAT_DOC, "csv", "--max-cells", "4")
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------- GET with periods


def _get(world: dict, query: str, who: str = "national"):
    return world["client"].get(f"/api/v1/tables/population?{query}",
                               headers={"Authorization": world[who]})


def test_get_takes_a_range_or_a_list_with_revisions(world):
    single = _get(world, "period=2025-01&area_level=county").get_json()
    assert set(single) == {"table", "period", "revision", "columns", "rows"}
    ranged = _get(world, "period=2025-01..2025-02&area_level=county")
    assert ranged.status_code == 200
    body = ranged.get_json()
    assert set(body) == {"table", "period", "revisions", "columns", "rows"}
    assert body["revisions"] == {"2025-01": 1, "2025-02": 1}
    second = _get(world, "period=2025-02&area_level=county").get_json()
    assert body["rows"] == single["rows"] + second["rows"]
    listed = _get(world, "period=2025-02,2025-01&area_level=county").get_json()
    assert listed["rows"] == body["rows"] and listed["revisions"] == body["revisions"]


@pytest.mark.parametrize("period", ["2025-01..2025-Q1", "2025-01,2025-Q1", "2025-01..",
                                   "2025-02..2025-01", "2025-01,2025-01",
                                   "2025-01..2025-02,2025-03", "2000-01..2025-01"])
def test_get_bad_period_forms_are_400(world, period):
    answer = _get(world, f"period={period}")
    assert answer.status_code == 400, period
    assert answer.get_json()["parameter"] == "period"


def test_get_range_with_an_unpublished_period_is_403(world):
    assert _get(world, "period=2025-02..2025-03").status_code == 403


# ---------------------------------------------------------------- more of §6 and §7


def test_a_level_with_no_granted_area_is_403(world):
    before = len(_audit(world))
    doc = {"table": "population", "periods": ["2025-01"], "area_level": "national"}
    assert _post(world, doc, who="taipei").status_code == 403
    assert any(e.action == "access.refused" for e in _audit(world)[before:])
    assert _post(world, doc).status_code == 200


def test_labelled_result_same_in_api_json_and_cli_cp950(world):
    doc = {**CUBE_DOC, "labels": "zh-TW"}
    body = _post(world, doc).get_json()
    assert body["columns"] == ["area_code", "area_name", "sex", "114年1月|人口數",
                               "114年2月|人口數"]
    assert [r[:3] for r in body["rows"]] == [["63000", "臺北市", "男"], ["63000", "臺北市", "女"],
                                             ["64000", "高雄市", "男"], ["64000", "高雄市", "女"]]
    result, out = _cli(world, doc, "csv", "--encoding", "cp950")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("cp950"))))
    assert rows == [body["columns"], *[[str(v) for v in r] for r in body["rows"]]]
    result, out = _cli(world, {**doc, "labels": "en"}, "px", "--encoding", "cp950")
    assert result.exit_code == 0, result.output
    text = out.read_bytes().decode("cp950")
    assert 'STUB="area","sex";' in text and 'LANGUAGE="en";' in text
    assert 'VALUES("area")="Taipei City","Kaohsiung City";' in text
    assert 'CODES("area")="63000","64000";' in text
    assert 'VALUES("sex")="male","female";' in text
    assert 'VALUES("period")="Jan 2025","Feb 2025";' in text


def test_publication_opens_the_query_at_the_exact_second(world):
    from stats.publication import list_releases

    at = next(r["published_at"] for r in list_releases(world["releases"], datetime.now(UTC))
              if r["period"] == "2025-03")
    moment = datetime.fromisoformat(at)
    doc = {**FLAT_DOC, "periods": ["2025-03"]}
    for when, status in ((moment - timedelta(seconds=1), 403), (moment, 200)):
        class Clock(datetime):
            @classmethod
            def now(cls, tz=None):
                return when

        app = create_app(ServerSettings(releases=world["releases"], db_url=world["db"],
                                        outbox=world["root"] / "outbox"), clock=Clock)
        answer = app.test_client().post("/api/v1/query", json=doc,
                                        headers={"Authorization": world["national"]})
        assert answer.status_code == status, (when, answer.get_json())


def test_recorded_answers_are_made_again_byte_for_byte(world):
    from access.api import reproduce_answer

    answers = [_post(world, BANDED), _post(world, FLAT_DOC, who="taipei", accept="text/csv"),
               _post(world, {k: v for k, v in CUBE_DOC.items() if k != "areas"}, who="taipei"),
               _get(world, "period=2025-02,2025-01&area_level=county&page_size=5&page=2"),
               _get(world, "period=2025-01..2025-02", who="taipei")]
    with session_factory(make_engine(world["db"]))() as session:
        for answer in answers:
            assert answer.status_code == 200, answer.data[:200]
            delivery = session.get(Delivery, answer.headers["X-Delivery-Id"])
            assert reproduce_answer(world["releases"], delivery) == answer.data


def test_api_refuses_too_many_cells_with_the_advice_to_split(world):
    from access.query_api import query_answer

    with session_factory(make_engine(world["db"]))() as session:
        now = datetime.now(UTC)
        # 1 county × 2 periods × 2 measures = 4 cells
        body = json.dumps(FLAT_DOC).encode()
        refused = query_answer(session, world["national"], world["releases"], body, None, now,
                               max_cells=3)
        assert refused.status == 400 and "split" in refused.json()["problems"][0]
        assert query_answer(session, world["national"], world["releases"], body, None, now,
                            max_cells=4).status == 200


def test_a_table_the_releases_never_held_is_404_not_an_outage(world):
    doc = {"table": "life_table", "periods": ["2025-01"], "area_level": "national",
           "labels": "codes"}
    answer = _post(world, doc)
    assert answer.status_code == 404 and "2025-01" in answer.get_json()["error"]
    got = world["client"].get("/api/v1/tables/life_table?period=2025-01..2025-02",
                              headers={"Authorization": world["national"]})
    assert got.status_code == 404 and got.get_json()["parameter"] == "table"
