"""``popstats serve``'s API over real HTTP requests (Flask test client; one test on a real
loopback socket): not flooded, not fed nonsense, JSON for everything under /api/, no version
in any header, outages answered 503 (issue 10 items 1, 2, 9, 11; issue 11 item 3)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import threading
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

from access.api_params import MAX_PAGE_ROWS
from dashboards.app import ServerSettings, create_app, plain_server
from tests.test_serve_api import agency, served  # noqa: F401 - the module's served release

VERSION = re.compile(r"(?i)werkzeug|python|flask|dash|\d+\.\d+")


def _fresh_app(served: dict, tmp_path: Path, **settings: object):  # noqa: ANN202, F811
    """A second app on a copy of the served database, without others' request counts."""
    shutil.copyfile(served["db_file"], tmp_path / "access.db")
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:
        db.execute("DELETE FROM api_requests")
        db.commit()
    options = {"releases": served["releases"], "db_url": f"sqlite:///{tmp_path / 'access.db'}",
               "outbox": tmp_path / "outbox", **settings}
    return create_app(ServerSettings(**options))  # type: ignore[arg-type]


def _audit(tmp_path: Path, action: str) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:
        return db.execute("SELECT object, details FROM audit_entries WHERE action = ?",
                          (action,)).fetchall()


def test_unrouted_api_paths_answer_json_never_the_dash_page(served):  # noqa: F811
    client = served["client"]
    national = {"Authorization": agency(served, ("00000",))}
    for path in ("/api/v1/nope", "/api/v1/", "/api/", "/api/v2/tables/population",
                 "/api/v1/tables/population/extra", "/api/v1/releases/"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        assert anonymous.is_json and b"<html" not in anonymous.data.lower(), path
        known = client.get(path, headers=national)
        assert known.status_code == 404 and known.is_json, path
        assert "openapi.json" in known.get_json()["error"]
    posted = client.post("/api/v1/releases", headers=national)
    assert posted.status_code == 405 and posted.is_json


def test_no_header_names_a_version_on_a_real_socket(served, tmp_path):  # noqa: F811
    server = plain_server(_fresh_app(served, tmp_path), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        for path in ("/api/v1/openapi.json", "/api/v1/nope", "/login", "/healthz"):
            try:
                answer = urllib.request.urlopen(base + path, timeout=10)  # noqa: S310
            except urllib.error.HTTPError as error:
                answer = error
            headers = dict(answer.headers.items())
            assert headers.get("Server") == "popstats", (path, headers)
            leaks = {k: v for k, v in headers.items()
                     if k not in ("Date", "Content-Length", "Content-Security-Policy")
                     and VERSION.search(v)}
            assert not leaks, (path, leaks)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_header_spellings_share_one_limit_and_429s_are_audited_once(served, tmp_path):  # noqa: F811
    client = _fresh_app(served, tmp_path, rate_limit=3).test_client()
    token = agency(served, ("63000",)).removeprefix("Bearer ")
    spellings = [f"Bearer {token}", f"bearer {token}", f"BEARER {token}"]
    assert [client.get("/api/v1/releases", headers={"Authorization": h}).status_code
            for h in spellings] == [200, 200, 200]
    refused = [client.get("/api/v1/releases", headers={"Authorization": h})
               for h in spellings * 10]
    assert {r.status_code for r in refused} == {429}
    assert refused[0].headers["Retry-After"] == "60"
    assert len(_audit(tmp_path, "api.rate_limited")) == 1  # 30 refusals, one window
    malformed = client.get("/api/v1/releases", headers={"Authorization": f"Bearer  {token}"})
    assert malformed.status_code == 401  # an unparsable header is no token


@pytest.mark.parametrize("query", [
    "period=/etc",
    "period=2025-03/../2025-03",
    "period=%2Ftmp%2Freleases%2F.revisions%2F2025-03%2Fr0001",
    "period=" + "9" * 60_000,
    "period=2025-03&area_code=63000%27%20OR%20%271%27%3D%271",
    "period=2025-03&period=/etc",
    "period=2025-03&area_level=../x",
])
def test_nonsense_is_400_and_never_reaches_the_records(served, tmp_path, query):  # noqa: F811
    app = _fresh_app(served, tmp_path)
    answer = app.test_client().get(f"/api/v1/tables/population?{query}",
                                   headers={"Authorization": agency(served, ("00000",))})
    assert answer.status_code == 400 and answer.get_json()["rule"]
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:
        texts = " ".join(str(v) for row in db.execute(
            "SELECT object, details FROM audit_entries UNION ALL "
            "SELECT period, options FROM deliveries") for v in row)
    assert "/etc" not in texts and ".." not in texts and "OR" not in texts


def test_a_national_answer_is_whole_or_paged_and_nothing_is_copied_to_the_outbox(  # noqa: F811
        served, tmp_path):
    client = _fresh_app(served, tmp_path).test_client()
    national = {"Authorization": agency(served, ("00000",))}
    # without paging parameters: every row the grant allows (CONTRACT §6)
    whole = client.get("/api/v1/tables/population_by_age?period=2025-03", headers=national)
    assert whole.status_code == 200
    total = int(whole.headers["X-Total-Rows"])
    assert total > MAX_PAGE_ROWS  # 202 rows (sex × age) for each of the ~8,000 areas
    assert len(whole.get_json()["rows"]) == total and "X-Page-Count" not in whole.headers
    first = client.get("/api/v1/tables/population_by_age?period=2025-03&page=1",
                       headers=national)
    assert len(first.get_json()["rows"]) == MAX_PAGE_ROWS
    assert int(first.headers["X-Page-Count"]) == -(-total // MAX_PAGE_ROWS)
    small = client.get("/api/v1/tables/population_by_age?period=2025-03&page_size=1000&page=2",
                       headers=national)
    assert small.status_code == 200 and len(small.get_json()["rows"]) == 1000
    assert 'rel="next"' in small.headers["Link"] and 'rel="prev"' in small.headers["Link"]
    assert small.get_json()["rows"] == whole.get_json()["rows"][1000:2000]
    outbox = tmp_path / "outbox"
    assert not outbox.exists() or not any(outbox.rglob("*"))


def test_release_store_offline_is_503_not_a_refusal(served, tmp_path):  # noqa: F811
    (tmp_path / "unmounted").mkdir()
    client = _fresh_app(served, tmp_path, releases=tmp_path / "unmounted").test_client()
    answer = client.get("/api/v1/tables/population?period=2025-03",
                        headers={"Authorization": agency(served, ("00000",))})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
    assert "resend the query after the repair" in answer.get_json()["error"]
    assert _audit(tmp_path, "api.outage") and not [
        d for _o, d in _audit(tmp_path, "access.refused") if "not published" in d]
    assert json.loads(_audit(tmp_path, "api.outage")[0][1])["component"] == "release store"


def test_a_failing_database_is_503_with_retry_after(served, tmp_path):  # noqa: F811
    client = _fresh_app(served, tmp_path).test_client()
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:  # the database breaks
        db.execute("DROP TABLE api_requests")
        db.commit()
    answer = client.get("/api/v1/releases", headers={"Authorization": agency(served, ("00000",))})
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "300"
    assert "provider's system is failing (database unavailable)" in answer.get_json()["error"]


def test_an_agency_with_a_large_answer_in_flight_waits_then_gets_429(served, tmp_path):  # noqa: F811
    """One large answer per agency at a time across workers (access.api_inflight): while
    another worker makes one for the national agency, its next page waits, then is refused
    429 (audited once per window); a single-area answer and other agencies go on."""
    from access.accounts import hash_secret
    from access.api_inflight import InFlight, agency_slot
    from access.db import make_engine

    client = _fresh_app(served, tmp_path).test_client()
    national = agency(served, ("00000",))
    with closing(sqlite3.connect(tmp_path / "access.db")) as db:
        (agency_id,) = db.execute(
            "SELECT users.agency_id FROM api_tokens JOIN users ON users.id = api_tokens.user_id"
            " WHERE token_hash = ?", (hash_secret(national.split()[1]),)).fetchone()
    other_worker = make_engine(f"sqlite:///{tmp_path / 'access.db'}")
    page = "/api/v1/tables/population?period=2025-03&page_size=10"
    try:
        with agency_slot(other_worker, agency_id, InFlight(limit=1)) as held:
            assert held
            for _ in range(2):
                busy = client.get(page, headers={"Authorization": national})
                assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
                assert "in flight" in busy.get_json()["error"]
            one_area = client.get("/api/v1/tables/population?period=2025-03&area_code=63000",
                                  headers={"Authorization": national})
            assert one_area.status_code == 200
            taipei = client.get(page, headers={"Authorization": agency(served, ("63000",))})
            assert taipei.status_code == 200
        assert client.get(page, headers={"Authorization": national}).status_code == 200
    finally:
        other_worker.dispose()
    assert len(_audit(tmp_path, "api.concurrency_limited")) == 1


def test_the_in_flight_limit_and_its_wait_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("POPSTATS_API_AGENCY_IN_FLIGHT", "3")
    monkeypatch.setenv("POPSTATS_API_IN_FLIGHT_WAIT_MS", "0")
    settings = ServerSettings(releases=Path("r"))
    assert (settings.api_in_flight, settings.api_in_flight_wait_ms) == (3, 0)
    monkeypatch.setenv("POPSTATS_API_AGENCY_IN_FLIGHT", "none")
    assert ServerSettings(releases=Path("r")).api_in_flight is None
    for bad in ("-1", "0.5", "soon", "60001"):
        monkeypatch.setenv("POPSTATS_API_IN_FLIGHT_WAIT_MS", bad)
        with pytest.raises(ValueError, match="POPSTATS_API_IN_FLIGHT_WAIT_MS"):
            ServerSettings(releases=Path("r"))
