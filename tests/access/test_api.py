"""The online query API handlers (CONTRACT §6): 401, 403 audited, granted rows, deliveries."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from access.accounts import issue_token
from access.api import log_answer, notices_answer, releases_answer, rows_json, table_answer
from access.api_limits import RateLimiter
from access.models import ApiRequest, AuditEntry, Delivery
from access.openapi import OPENAPI
from access.sanctions import record_violation
from tests.access.conftest import NOW, World, grant_taipei

AT = datetime(2025, 4, 20, tzinfo=UTC)


@pytest.fixture
def token(session: Session, world: World) -> str:
    """A bearer token of ``world.user``, whose agency may query population for 臺北市."""
    world.grant = grant_taipei(session, world, ["population"], ["online_query"])  # type: ignore[attr-defined]
    value = issue_token(session, world.user, NOW)
    session.commit()
    return f"Bearer {value}"


def _get(
    session: Session,
    auth: str | None,
    releases: Path,
    tmp_path: Path,
    table: str = "population",
    accept: str | None = None,
    **params: str,
):  # noqa: ANN202
    return table_answer(
        session,
        auth,
        releases,
        table,
        {"period": "2025-03", **params},
        accept,
        AT,
    )


def _refusals(session: Session) -> int:
    return len(
        session.scalars(select(AuditEntry).where(AuditEntry.action == "access.refused")).all()
    )


def test_no_or_bad_token_401(
    session: Session, world: World, releases: Path, tmp_path: Path
) -> None:
    assert _get(session, None, releases, tmp_path).status == 401
    assert _get(session, "Bearer nope", releases, tmp_path).status == 401
    assert releases_answer(session, None, releases, AT).status == 401


def test_granted_rows_only(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    answer = _get(session, token, releases, tmp_path)
    assert answer.status == 200
    body = answer.json()
    assert list(body) == ["table", "period", "revision", "columns", "rows"]
    assert body["table"] == "population" and body["period"] == "2025-03" and body["revision"] == 1
    codes = {row[body["columns"].index("area_code")] for row in body["rows"]}
    assert codes and all(c.startswith("63000") for c in codes)
    village = _get(session, token, releases, tmp_path, area_level="village").json()
    assert all(len(r[body["columns"].index("area_code")]) == 11 for r in village["rows"])
    one = _get(session, token, releases, tmp_path, area_code="63000").json()
    assert [r[body["columns"].index("area_code")] for r in one["rows"]] == ["63000"]
    # recorded as an online-query delivery kept 1 day
    deliveries = session.scalars(select(Delivery)).all()
    assert len(deliveries) == 3 and all(d.expires_at == AT + timedelta(days=1) for d in deliveries)


def test_csv_answer(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    answer = _get(session, token, releases, tmp_path, accept="text/csv", area_code="63000")
    assert answer.status == 200 and answer.content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.body.decode("utf-8"))))
    assert rows[0][:3] == ["period", "area_level", "area_code"] and rows[1][2] == "63000"


@pytest.mark.parametrize(
    "table, params",
    [
        ("population", {"area_code": "64000"}),  # other county
        ("population", {"area_code": "00000"}),  # national
        ("vital_events", {}),  # table not granted
        ("population", {"period": "2025-02"}),  # period not published
        ("no_such_table", {}),
    ],
)
def test_outside_grant_403_and_audited(
    session: Session,
    world: World,
    token: str,
    releases: Path,
    tmp_path: Path,
    table: str,
    params: dict[str, str],
) -> None:
    before = _refusals(session)
    assert _get(session, token, releases, tmp_path, table, **params).status == 403
    assert _refusals(session) == before + 1


def test_suspended_agency_403_with_the_notice_and_notices_readable(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    """Point 19: the suspension stops the data at once, and the same-day notice reaches the
    agency through its own token: in the 403 (one line) and at GET /api/v1/notices."""
    record_violation(session, world.grant, world.taipei_official, "違規利用",  # type: ignore[attr-defined]
                     date(2025, 5, 1), AT)
    session.commit()
    refused = _get(session, token, releases, tmp_path)
    assert refused.status == 403
    body = refused.json()
    assert "suspended your agency's linking from 2025-04-20 08:00 +08:00" in body["error"]
    assert "\n" not in body["error"] and "114年5月1日前改善" in body["notice"]
    told = notices_answer(session, token, AT)
    assert told.status == 200
    [notice] = told.json()["notices"]
    assert (notice["kind"], notice["deadline"], notice["reason"]) == (
        "suspended", "2025-05-01", "違規利用")
    assert notices_answer(session, "Bearer nope", AT).status == 401
    # the notice is in the agency's own log too
    log = log_answer(session, token, {"from": "2025-04-20", "to": "2025-04-20"}, None, AT)
    assert "grant.suspended" in [e["action"] for e in log.json()["entries"]]


def test_releases_lists_published(
    session: Session, world: World, token: str, releases: Path
) -> None:
    body = releases_answer(session, token, releases, AT).json()
    assert [(r["period"], r["revision"]) for r in body["releases"]] == [("2025-03", 1)]
    assert body["releases"][0]["published_at"].startswith("2025-04-15")


def test_rate_limiter_sliding_window(session: Session) -> None:
    limiter = RateLimiter(limit=2, window=timedelta(seconds=10))
    assert limiter.allow(session, "t", AT)
    assert limiter.allow(session, "t", AT + timedelta(seconds=1))
    assert not limiter.allow(session, "t", AT + timedelta(seconds=2))
    assert limiter.allow(session, "other", AT + timedelta(seconds=2))
    assert limiter.allow(session, "t", AT + timedelta(seconds=10))  # the first has left
    assert not limiter.allow(session, "t", AT + timedelta(seconds=10))
    session.commit()
    # only hashes are kept; what left the window stays until a key holds as many such rows
    # as its limit (t at 0 s: one of two), then they go together
    keys = session.scalars(select(ApiRequest.key_hash)).all()
    assert "t" not in keys and len(keys) == 4  # t at 0, 1 and 10 s, other at 2 s
    assert limiter.allow(session, "t", AT + timedelta(seconds=11))  # 0 s and 1 s have left
    session.commit()
    assert len(session.scalars(select(ApiRequest.key_hash)).all()) == 3  # t 10, 11; other


def test_rate_limiter_deletes_once_a_window_not_every_request(session: Session) -> None:
    """A DELETE on every request was a round trip (and a write) per answer; now a key's rows
    that left the window go once they are as many as its limit: never more than twice the
    limit kept per key."""
    limiter = RateLimiter(limit=5, window=timedelta(seconds=10))
    statements: list[str] = []
    bind = session.get_bind()

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    event.listen(bind, "before_cursor_execute", count)
    try:
        for second in range(60):  # one request every 2 s for 2 minutes: always admitted
            assert limiter.allow(session, "steady", AT + timedelta(seconds=2 * second))
            session.commit()
            kept = session.scalar(select(func.count()).select_from(ApiRequest))
            assert kept <= 2 * limiter.limit
    finally:
        event.remove(bind, "before_cursor_execute", count)
    deletes = [s for s in statements if s.lstrip().upper().startswith("DELETE")]
    assert 0 < len(deletes) <= 60 // limiter.limit


def test_openapi_describes_every_path() -> None:
    assert set(OPENAPI["paths"]) == {"/api/v1/releases", "/api/v1/tables/{table}", "/api/v1/log",
                                     "/api/v1/query", "/api/v1/notices"}


@given(st.lists(st.tuples(st.one_of(st.none(), st.text(max_size=8)),
                          st.one_of(st.none(), st.integers(-2**53, 2**53)),
                          st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False))),
                max_size=20))
def test_rows_json_equals_the_python_encoding(rows: list[tuple]) -> None:
    """Polars' encoding of the rows reads back exactly as ``json.dumps`` of the tuples would."""
    frame = pl.DataFrame(rows, schema={"area_code": pl.String, "births": pl.Int64,
                                       "sex_ratio": pl.Float64}, orient="row")
    assert json.loads(rows_json(frame)) == [list(r) for r in frame.rows()]


def test_own_log_lists_what_the_agency_obtained_and_only_that(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    from access.api import log_answer

    assert log_answer(session, None, {}, None, AT).status == 401
    _get(session, token, releases, tmp_path, area_code="63000")  # a query: obtained
    _get(session, token, releases, tmp_path, area_code="64000")  # refused: not obtained
    answer = log_answer(session, token, {}, None, AT)
    assert answer.status == 200
    entries = answer.json()["entries"]
    actions = [e["action"] for e in entries]
    assert actions.count("query") == 1 and actions.count("delivery.created") == 1
    assert "access.refused" not in actions and all(e["actor"] == "alice" for e in entries)
    assert all(e["channel"] == "online_query" for e in entries)
    csv_rows = list(csv.reader(io.StringIO(log_answer(session, token, {}, "text/csv", AT)
                                           .body.decode("utf-8"))))
    assert csv_rows[0] == ["seq", "time", "actor", "action", "object", "channel", "details"]
    assert len(csv_rows) == 1 + len(entries)
    tomorrow = (AT + timedelta(days=1)).date().isoformat()
    later = {"from": tomorrow, "to": tomorrow}
    assert log_answer(session, token, later, None, AT).json()["entries"] == []
    for bad in ({"from": "2025-13-01"}, {"from": "2025-03-02", "to": "2025-03-01"},
                {"from": "2023-01-01", "to": "2025-03-01"}):
        assert log_answer(session, token, bad, None, AT).status == 400
