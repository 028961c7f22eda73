"""Two ``popstats serve`` processes on two ports, sharing one PostgreSQL database and the
releases in one S3 bucket (moto on 127.0.0.1), as two hosts behind a load balancer would:
a login on one is a login on the other, a suspension recorded through one is refused by
the other at its next request, the API's rate limit is counted once for both, and a file
delivered through one (into the outbox in the bucket) is downloaded through the other."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from access.models import Agency, Grant
from dashboards.admin import ids
from dashboards.web import CSRF_COOKIE
from stats.store import ObjectPath
from tests.dashboards.client import components, payload
from tests.dashboards.test_builder import submit_payload
from tests.objectstore.conftest import (
    free_port,
    keys,
    make_bucket,
    publish_sample,
    wait_for_port,
)

PG_URL = os.environ.get("POPSTATS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[2]
RATE_LIMIT = 8  # API requests per token per minute, for both servers together


@pytest.fixture(scope="module")
def pg_schema() -> Iterator[str]:
    """A fresh PostgreSQL schema (its URL), dropped afterwards."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool,
                          connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        message = f"PostgreSQL at {PG_URL} unreachable ({exc}); set POPSTATS_TEST_PG_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def cluster(s3_endpoint: dict[str, str], pg_schema: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A sample month built and published into a bucket, the demo accounts in PostgreSQL,
    and two servers started as separate processes, each with its own port."""
    root = tmp_path_factory.mktemp("cluster")
    bucket = make_bucket(s3_endpoint)
    releases = f"s3://{bucket}/releases"
    with pytest.MonkeyPatch.context() as patch:
        for key, value in s3_endpoint.items():
            patch.setenv(key, value)
        accounts = publish_sample(root / "x", releases, pg_schema)
    # the outbox in the bucket too: no shared file system between the two "hosts"
    env = {**os.environ, **s3_endpoint, "POPSTATS_OUTBOX": f"s3://{bucket}/outbox",
           "POPSTATS_API_RATE_LIMIT": str(RATE_LIMIT), "POPSTATS_API_AGENCY_RATE_LIMIT": "none"}
    env.pop("POPSTATS_SECRET_KEY", None)  # the shared key is the one kept in the database
    servers, urls = [], []
    try:
        for name in ("a", "b"):
            port = free_port()
            # A is told its outbox by --outbox, B by POPSTATS_OUTBOX: both ways reach the bucket
            outbox = ["--outbox", env["POPSTATS_OUTBOX"]] if name == "a" else []
            server_env = ({k: v for k, v in env.items() if k != "POPSTATS_OUTBOX"}
                          if name == "a" else env)
            with (root / f"serve-{name}.log").open("wb") as log:
                servers.append(subprocess.Popen(
                    [sys.executable, "-m", "popstats.cli", "serve", "--releases", releases,
                     "--db", pg_schema, *outbox, "--host", "127.0.0.1", "--port", str(port)],
                    cwd=ROOT, env=server_env, stdout=log, stderr=subprocess.STDOUT))
            urls.append(f"http://127.0.0.1:{port}")
        for server, url in zip(servers, urls, strict=True):
            wait_for_port(int(url.rsplit(":", 1)[1]), server, seconds=120)
        yield {"a": urls[0], "b": urls[1], "accounts": accounts, "db": pg_schema, "root": root,
               "bucket": bucket, "env": s3_endpoint}
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(20)


def log_in(base: str, username: str, password: str) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{base}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    answer = browser.post(f"{base}/login", data={"username": username, "password": password,
                                                 "csrf_token": token},
                          allow_redirects=False, timeout=30)
    assert answer.status_code == 303, answer.text
    return browser


def on(browser: requests.Session, base: str) -> requests.Session:
    """The same browser (its cookies) talking to another server."""
    moved = requests.Session()
    for cookie in browser.cookies:
        moved.cookies.set(cookie.name, cookie.value)
    return moved


def test_a_login_on_one_server_works_on_the_other(cluster: dict) -> None:
    account = next(a for a in cluster["accounts"].values() if a["role"] == "agency_user")
    on_a = log_in(cluster["a"], account["username"], account["password"])
    assert on_a.get(f"{cluster['a']}/_dash-layout", timeout=30).status_code == 200
    on_b = on(on_a, cluster["b"])
    assert on_b.get(f"{cluster['b']}/_dash-layout", timeout=30).status_code == 200
    # a Dash callback (a POST: CSRF token checked against the key both servers share)
    body = payload([("_pages_content", "children"), ("_pages_store", "data")],
                   [("_pages_location", "pathname", "/"), ("_pages_location", "search", "")])
    answer = on_b.post(f"{cluster['b']}/_dash-update-component", json=body, timeout=60,
                       headers={"X-CSRFToken": on_a.cookies.get(CSRF_COOKIE) or ""})
    assert answer.status_code == 200, answer.text[:500]
    # logging out on B ends the session on A too
    logout = on_b.post(f"{cluster['b']}/logout", allow_redirects=False, timeout=30,
                       data={"csrf_token": on_a.cookies.get(CSRF_COOKIE) or ""},
                       headers={"X-CSRFToken": on_a.cookies.get(CSRF_COOKIE) or ""})
    assert logout.status_code in (302, 303), logout.text[:300]
    assert on_a.get(f"{cluster['a']}/_dash-layout", timeout=30).status_code == 401
    # without the cookie: refused on both
    for base in (cluster["a"], cluster["b"]):
        assert requests.get(f"{base}/_dash-layout", timeout=30).status_code == 401


def test_both_servers_answer_the_api_from_the_bucket(cluster: dict) -> None:
    # taipei_user's token (the rate-limit test counts another's from zero)
    auth = {"Authorization": f"Bearer {cluster['accounts']['taipei_user']['token']}"}
    answers = [requests.get(f"{base}/api/v1/tables/population?period=2025-03", headers=auth,
                            timeout=60) for base in (cluster["a"], cluster["b"])]
    assert [a.status_code for a in answers] == [200, 200], answers[0].text[:300]
    assert answers[0].json()["rows"] == answers[1].json()["rows"]
    assert answers[0].json()["revision"] == 1
    for base in (cluster["a"], cluster["b"]):  # the load balancer's check reaches the bucket
        health = requests.get(f"{base}/healthz", timeout=30)
        assert (health.status_code, health.json()["status"]) == (200, "ok")


def test_a_file_made_on_one_server_downloads_from_the_other(cluster: dict) -> None:
    """The builder's file is put in the bucket's outbox by A and sent by B (equal bytes);
    before the suspension test below suspends the Taipei agency."""
    password = cluster["accounts"]["taipei_user"]["password"]
    on_a = log_in(cluster["a"], "taipei_user", password)
    answer = on_a.post(f"{cluster['a']}/_dash-update-component", timeout=120,
                       json=submit_payload("population", "county", ["63000"], ["population"]),
                       headers={"X-CSRFToken": on_a.cookies.get(CSRF_COOKIE) or ""})
    assert answer.status_code == 200, answer.text[:500]
    (link,) = [c["props"]["href"] for c in components(answer.json(), "A")
               if c["props"].get("id") == "builder-file-link"]
    item_id = link.split("/")[2]
    with pytest.MonkeyPatch.context() as patch:
        for key, value in cluster["env"].items():
            patch.setenv(key, value)
        (key,) = keys(cluster["bucket"], f"outbox/{item_id}/")
        stored = ObjectPath(f"s3://{cluster['bucket']}/{key}").read_bytes()
    got = on(on_a, cluster["b"]).get(f"{cluster['b']}{link}", timeout=60)
    assert got.status_code == 200, got.text[:300]
    assert got.content == stored and b"63000" in stored
    assert not (cluster["root"] / "outbox").exists()


def test_a_suspension_through_one_is_refused_by_the_other(cluster: dict) -> None:
    agency_user = next(a for a in cluster["accounts"].values()
                       if a["role"] == "agency_user" and a["token"]
                       and a["username"] == "taipei_user")
    auth = {"Authorization": f"Bearer {agency_user['token']}"}
    url = "/api/v1/tables/population?period=2025-03"
    assert requests.get(cluster["b"] + url, headers=auth, timeout=60).status_code == 200
    official = cluster["accounts"]["taipei_official"]
    on_a = log_in(cluster["a"], "taipei_official", official["password"])
    engine = create_engine(cluster["db"], poolclass=NullPool)
    with Session(engine) as s:
        grant_id = s.scalar(select(Grant.id).join(Agency).where(
            Agency.name == agency_user["agency"]))
    engine.dispose()
    body = payload([(ids.VIOL_STATUS, "children")],
                   [(ids.VIOL_RECORD, "n_clicks", 1), (ids.VIOL_RESTORE, "n_clicks", 1)],
                   [(ids.VIOL_GRANT, "value", grant_id),
                    (ids.VIOL_DESCRIPTION, "value", "查詢紀錄未留存"),
                    (ids.VIOL_DEADLINE, "date", "2099-01-01"), (ids.VIOL_CHOICE, "value", None),
                    (ids.VIOL_NOTE, "value", None)])
    body["changedPropIds"] = [f"{ids.VIOL_RECORD}.n_clicks"]
    recorded = on_a.post(f"{cluster['a']}/_dash-update-component", json=body, timeout=60,
                         headers={"X-CSRFToken": on_a.cookies.get(CSRF_COOKIE) or ""})
    assert recorded.status_code == 200 and "已登錄並當日通知" in recorded.content.decode(
        "unicode_escape"), recorded.text[:500]
    refused = requests.get(cluster["b"] + url, headers=auth, timeout=60)
    assert refused.status_code == 403, refused.text[:300]


def test_the_rate_limit_is_counted_once_for_both_servers(cluster: dict) -> None:
    account = next(a for a in cluster["accounts"].values()  # a token no other test used
                   if a["token"] and a["username"] != "taipei_user")
    auth = {"Authorization": f"Bearer {account['token']}"}
    codes = [requests.get(f"{cluster[s]}/api/v1/releases", headers=auth, timeout=60).status_code
             for s in ("a", "b") * RATE_LIMIT]  # twice the limit, alternating servers
    assert codes[:RATE_LIMIT] == [200] * RATE_LIMIT
    assert set(codes[RATE_LIMIT:]) == {429}  # each server alone saw only half: shared count
