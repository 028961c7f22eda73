"""File downloads as the quick start serves them, in Chromium: ``popstats serve`` started in a
folder of its own with its default, relative places (``demo/releases``, ``popstats.db``,
hence the outbox ``demo/outbox``) — the set-up in which every agency download used to be a
bare 500.

As ``taipei_user``, the table builder makes a file-transfer download of the latest month's
vital events for every 臺北市 village (its default layout: Chinese labels, the period and the
measures across) in every format and encoding it offers; each download's bytes must equal
``exports.query.write_query`` of the query the delivery recorded, run here on the release
(``run_on_releases``, limited to the delivery's areas) — the one code path of ``popstats
query`` and the API. MOI's open-data layout holds whole release tables only, so the builder
does not offer it. In CP950 every text format is refused, naming 廍 (U+5ECD) of
萬華區糖廍里, which CP950 cannot hold: nothing is made and nothing silently replaced. The
metadata's creation time is the delivery's own production time (from the database), so
every format's bytes are compared whole — except the two stamps the statistics-package
libraries take from the wall clock rather than from the metadata: SPSS's header creation
date and time (``sav``, bytes 92–108) and Stata's ``<timestamp>`` (``dta``), blanked on both
sides. Afterwards the agency's audit report lists exactly those downloads, in order, at
Taipei times within the test's run.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

import exports
from access.calendar import local_date
from access.models import Agency, Delivery, User
from access.query_api import inside
from access.query_files import QUERY_FORMATS
from access.reports import agency_report
from dashboards.selection import ENCODINGS, is_text_format
from exports.query import query_meta, write_query
from stats.query import parse_query
from stats.query_source import run_on_releases
from stats.taipei import TAIPEI
from tests.dashboards.browser.conftest import ROOT, needs_chromium, open_tab
from tests.dashboards.browser.test_browser import choose, open_from_navigation
from tests.dashboards.client import db_session

pytestmark = [pytest.mark.browser, needs_chromium]

MONTH = "2025-03"  # the served demo's latest published month
TABLE = "vital_events"
POPSTATS = Path(sys.executable).parent / "popstats"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def quick_start(served: dict, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``popstats serve`` with no place given, in its own folder holding ``demo/releases``
    (the served releases) and ``popstats.db`` (a copy of the served database)."""
    folder = tmp_path_factory.mktemp("quick-start")
    (folder / "demo").mkdir()
    (folder / "demo" / "releases").symlink_to(served["releases"])
    shutil.copyfile(served["root"] / "access.db", folder / "popstats.db")
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPSTATS_")}
    env["PYTHONPATH"] = str(ROOT)
    port, log = _free_port(), folder / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen([str(POPSTATS), "serve", "--port", str(port)], cwd=folder,
                                  env=env, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/login", timeout=10) as ready:
                    ready.read()
                break
            except (urllib.error.URLError, ConnectionError):
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "popstats serve did not start"
                time.sleep(0.2)
        yield {**served, "url": url, "db": f"sqlite:///{folder / 'popstats.db'}",
               "outbox": folder / "demo" / "outbox"}
    finally:
        server.terminate()
        server.wait(timeout=20)


def choices() -> list[tuple[str, str | None]]:
    """Every format the builder offers, text formats in each of its encodings."""
    return [(fmt, enc) for fmt in QUERY_FORMATS
            for enc in (ENCODINGS if is_text_format(fmt) else (None,))]


SAV_STAMP = slice(92, 109)  # creation date (9 bytes) and time (8) in the SPSS file header
DTA_STAMP = re.compile(rb"<timestamp>.*?</timestamp>", re.DOTALL)


ZIP_STAMPED = {"xlsx": "docProps/core.xml", "ods": "meta.xml"}  # the writer's "now"


def comparable(fmt: str, data: bytes) -> object:
    """What must be equal: the bytes without the wall-clock stamps; for the zipped
    spreadsheets each member's bytes (a zip entry carries its write time), less the member
    holding the library's own creation time."""
    if fmt in ZIP_STAMPED:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {n: archive.read(n) for n in archive.namelist() if n != ZIP_STAMPED[fmt]}
    return without_clock_stamps(fmt, data)


def without_clock_stamps(fmt: str, data: bytes) -> bytes:
    """``data`` with the wall-clock stamps of pyreadstat's writers blanked (see above)."""
    if fmt == "sav":
        return data[:SAV_STAMP.start] + b"#" * (SAV_STAMP.stop - SAV_STAMP.start) \
            + data[SAV_STAMP.stop:]
    if fmt == "dta":
        return DTA_STAMP.sub(b"<timestamp>#</timestamp>", data, count=1)
    return data


def expected_bytes(served: dict, delivery: Delivery, folder: Path) -> bytes:
    """The file written here from the release: the query the delivery recorded, on the
    revision it recorded, within its areas, made at its production time."""
    fmt, encoding = delivery.options["format"], delivery.options["encoding"]
    assert delivery.options["revisions"] == {MONTH: 1}
    result = run_on_releases(parse_query(delivery.options["query"]),
                             {MONTH: served["releases"] / MONTH},
                             allowed=inside(list(delivery.areas)))
    assert result.frame.height == len(taipei_villages(served))  # one row per village
    target = folder / f"expected.{exports.SUFFIX[fmt]}"
    write_query(result, fmt, target, encoding=encoding,
                meta=query_meta(result, now=delivery.delivered_at))
    return target.read_bytes()


def taipei_villages(served: dict) -> list[str]:
    areas = pl.read_parquet(served["releases"] / MONTH / "areas.parquet")
    return areas.filter(pl.col("area_level") == "village",
                        pl.col("area_code").str.starts_with("63000"))["area_code"].to_list()


def test_every_format_and_encoding_downloads_as_written(
    browser: Browser, quick_start: dict, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    started = datetime.now(UTC).replace(microsecond=0)
    downloads: list[tuple[str, str | None, str, str, bytes]] = []
    refused: list[str] = []
    with open_tab(browser, quick_start, request.node.name) as tab:
        page = tab.page
        tab.login("taipei_user")  # every table, 臺北市 (63000) only
        open_from_navigation(tab, "/builder")
        choose(page, "builder-table", TABLE)
        tab.settle()
        choose(page, "builder-period", MONTH)
        tab.settle()
        choose(page, "builder-level", "village")
        tab.settle()
        link = page.locator("#builder-file-link")
        previous = None
        for fmt, encoding in choices():
            choose(page, "builder-format", fmt)
            tab.settle()
            if encoding is not None:
                choose(page, "builder-encoding", encoding)
                tab.settle()
            page.click("#builder-submit")
            if encoding == "cp950":
                # 萬華區糖廍里: 廍 (U+5ECD) is not in CP950 — refused, named, nothing made
                expect(page.locator("#builder-status")).to_contain_text("廍 (U+5ECD)",
                                                                        timeout=30_000)
                expect(page.locator("#builder-status")).to_contain_text("請改選 BIG5-HKSCS")
                refused.append(fmt)
                continue
            if previous is None:
                expect(link).to_be_visible(timeout=30_000)
            else:
                expect(link).not_to_have_attribute("href", previous, timeout=30_000)
            tab.settle()
            previous = link.get_attribute("href")
            assert previous is not None and re.fullmatch(r"/deliveries/[0-9a-f]{32}/file",
                                                         previous), previous
            with page.expect_download() as started_download:
                link.click()
            download = started_download.value
            assert download.failure() is None, (fmt, encoding, download.failure())
            downloads.append((fmt, encoding, previous.split("/")[2],
                              download.suggested_filename,
                              Path(download.path()).read_bytes()))
        tab.screenshot("builder-downloads")
        assert tab.console_errors == []
    finished = datetime.now(UTC)
    assert len(choices()) == 22  # MOI's layout (5 encodings) is not offered for a query
    assert refused == ["csv", "px", "sdmx-csv"]  # every text format, in CP950
    assert len(downloads) == 22 - len(refused)

    with db_session(quick_start) as session:
        made = {d.id: d for d in session.scalars(select(Delivery).where(
            Delivery.id.in_([item_id for _f, _e, item_id, _n, _b in downloads])))}
        for fmt, encoding, item_id, name, data in downloads:
            delivery = made[item_id]
            written = encoding or "utf-8"
            assert delivery.options["format"] == fmt and delivery.options["encoding"] == written
            assert delivery.path == str(quick_start["outbox"] / item_id)  # absolute, resolved
            assert name.endswith("." + exports.SUFFIX[fmt]), (fmt, name)
            if encoding is not None:
                assert f".{encoding}." in name, (fmt, name)
            assert delivery.delivered_at is not None
            want = expected_bytes(quick_start, delivery, tmp_path)
            assert comparable(fmt, data) == comparable(fmt, want), (
                f"{fmt} {written}: {len(data)} bytes, expected {len(want)}")

        user = session.scalar(select(User).where(User.username == "taipei_user"))
        assert user is not None and user.agency_id is not None
        assert session.get(Agency, user.agency_id) is not None
        report = agency_report(session, user.agency_id, local_date(started),
                               local_date(finished))
    got = [e for e in report["obtained"] if e["action"].startswith("download")]
    assert [e["object"] for e in got] == [f"delivery:{d[2]}" for d in downloads]
    assert {e["action"] for e in got} == {"download"}
    assert [e["details"]["bytes"] for e in got] == [len(d[4]) for d in downloads]
    assert not [e for e in report["entries"] if e["action"] == "download.failed"]
    for entry in got:  # the times: in the run, read on the Taipei calendar
        moment = datetime.fromisoformat(entry["time"])
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        assert started <= moment <= finished
        assert moment.astimezone(TAIPEI).date() == local_date(moment)
