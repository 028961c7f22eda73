"""The online query API cannot be flooded or fed nonsense, and outages are the provider's
(issue 10 items 1, 2, 9; issue 11 item 3), at the handler level on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from access.accounts import issue_token
from access.api import releases_answer, reproduce_answer, table_answer
from access.api_http import bearer_token
from access.api_limits import ApiLimits, RateLimiter, admit_request
from access.models import AuditEntry, Delivery
from tests.access.conftest import NOW, World, grant_taipei

AT = datetime(2025, 4, 20, 2, 0, tzinfo=UTC)  # 2025-04-20 10:00 in Taipei


@pytest.fixture
def token(session: Session, world: World) -> str:
    """A bearer token of ``world.user``, whose agency may query population for 臺北市."""
    grant_taipei(session, world, ["population"], ["online_query"])
    value = issue_token(session, world.user, NOW)
    session.commit()
    return value


def _get(session: Session, auth: str | None, releases: Path, now: datetime = AT,
         accept: str | None = None, limits: ApiLimits = ApiLimits(), table: str = "population",
         **params: str):  # noqa: ANN202
    return table_answer(session, auth, releases, table, {"period": "2025-03", **params},
                        accept, now, limits)


def _actions(session: Session, action: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _count(session: Session, model: type) -> int:
    session.expire_all()
    return len(session.scalars(select(model)).all())


# ---------------------------------------------------------------- item 1: the rate limit


def test_bearer_header_is_parsed_strictly() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer abc") == "abc"  # the scheme is case-insensitive
    assert bearer_token("BEARER abc=") == "abc="
    for bad in ("Bearer  abc", "Bearer\tabc", " Bearer abc", "Bearer abc ", "Bearerabc",
                "Basic abc", "Bearer a b", "Bearer " + "a" * 300, "Bearer =abc", ""):
        assert bearer_token(bad) is None, bad


def test_rate_limit_counts_the_token_however_the_header_is_spelt(
    session: Session, world: World, token: str, releases: Path
) -> None:
    """Before: each spelling of the header was a fresh key, so the limit never bit."""
    limiter = RateLimiter(limit=3, window=timedelta(minutes=1))
    spellings = [f"Bearer {token}", f"bearer {token}", f"BEARER {token}"]
    for i, header in enumerate(spellings):
        assert admit_request(session, limiter, header, "10.0.0.1", AT + timedelta(seconds=i)) \
            is None
        assert _get(session, header, releases, area_code="63000").status == 200
    for header in [*spellings, f"Bearer {token}"]:
        refused = admit_request(session, limiter, header, "10.0.0.2", AT + timedelta(seconds=5))
        assert refused is not None and refused.status == 429
        assert ("Retry-After", "60") in refused.headers
    # a malformed header is no token at all: 401, and counted by the caller's address
    assert _get(session, f"Bearer  {token}", releases).status == 401
    assert admit_request(session, limiter, f"Bearer  {token}", "10.0.0.1",
                         AT + timedelta(seconds=5)) is None
    # the window slides: the first request leaves it 60 s later
    assert admit_request(session, limiter, f"Bearer {token}", "10.0.0.1",
                         AT + timedelta(seconds=60)) is None


def test_rate_limit_per_agency_counts_all_its_tokens(
    session: Session, world: World, token: str
) -> None:
    limiter = RateLimiter(limit=10, agency_limit=3)
    tokens = [token, issue_token(session, world.user, NOW), issue_token(session, world.user, NOW)]
    session.commit()
    for i, value in enumerate(tokens):
        assert admit_request(session, limiter, f"Bearer {value}", "a", AT) is None, i
    fourth = issue_token(session, world.user, NOW)
    session.commit()
    refused = admit_request(session, limiter, f"Bearer {fourth}", "a", AT)
    assert refused is not None and refused.status == 429
    assert "agency" in refused.json()["error"]


def test_each_429_window_is_audited_once(session: Session, world: World, token: str) -> None:
    limiter = RateLimiter(limit=2, window=timedelta(minutes=1))
    header = f"Bearer {token}"
    answers = [admit_request(session, limiter, header, "a", AT + timedelta(seconds=i))
               for i in range(30)]
    assert [a is None for a in answers[:3]] == [True, True, False]
    assert all(a is not None and a.status == 429 for a in answers[2:])
    (logged,) = _actions(session, "api.rate_limited")
    assert logged.actor == "alice" and logged.agency_id == world.agency.id
    assert logged.details["limit"] == 2 and logged.time == AT + timedelta(seconds=2)
    # 60 s after the first refusal a new window of refusals starts: one more entry
    later = AT + timedelta(seconds=62)
    for i in range(5):  # 0 s, 1 s and the marker at 2 s have left: 62 s and 63 s pass,
        # 64 s is refused again, in a new window
        admit_request(session, limiter, header, "a", later + timedelta(seconds=i))
    assert len(_actions(session, "api.rate_limited")) == 2


# ---------------------------------------------------------------- item 9: nonsense in, 400


@pytest.mark.parametrize("params, parameter", [
    ({"period": "/etc"}, "period"),
    ({"period": "2025-03/../2025-03"}, "period"),
    ({"period": "/tmp/releases/.revisions/2025-03/r0001"}, "period"),
    ({"period": "2" * 60_000}, "period"),
    ({"period": ""}, "period"),
    ({"period": "2025-13"}, "period"),
    ({"period": "2025-Q5"}, "period"),
    ({"area_code": "63000' OR '1'='1"}, "area_code"),
    ({"area_code": "6300"}, "area_code"),
    ({"area_code": "６３０００"}, "area_code"),  # full-width digits are not digits here
    ({"area_level": "../village"}, "area_level"),
    ({"area_level": "county", "area_code": "63000010"}, "area_code"),  # a township code
    ({"area_level": "villages"}, "area_level"),
    ({"page": "0"}, "page"),
    ({"page_size": "50001"}, "page_size"),
    ({"perid": "2025-03"}, "perid"),
])
def test_bad_parameters_are_400_naming_the_rule_and_leave_no_trace(
    session: Session, world: World, token: str, releases: Path, params: dict[str, str],
    parameter: str,
) -> None:
    entries, deliveries = _count(session, AuditEntry), _count(session, Delivery)
    answer = _get(session, f"Bearer {token}", releases, **params)
    assert answer.status == 400, answer.body[:200]
    body = answer.json()
    assert body["parameter"] == parameter and body["rule"]
    assert len(answer.body) < 400  # the value is not echoed back
    assert (_count(session, AuditEntry), _count(session, Delivery)) == (entries, deliveries)


def test_a_table_without_the_level_asked_is_400(
    session: Session, world: World, token: str, releases: Path
) -> None:
    answer = _get(session, f"Bearer {token}", releases, table="population_by_marital_status",
                  area_level="village")
    assert answer.status == 400 and "no village level" in answer.json()["rule"]


def test_an_area_code_the_release_does_not_have_is_404_and_no_delivery(
    session: Session, world: World, token: str, releases: Path
) -> None:
    """Valid form, inside the grant (臺北市), not in the release: 404 with the reason."""
    deliveries = _count(session, Delivery)
    answer = _get(session, f"Bearer {token}", releases, area_code="63000999")
    assert answer.status == 404
    assert answer.json() == {"error": "area 63000999 is not in release 2025-03 r1",
                             "parameter": "area_code"}
    assert _count(session, Delivery) == deliveries and not _actions(session, "query")


# ---------------------------------------------------------------- item 2: no copies, pages


def test_an_answer_is_recorded_by_checksum_not_copied_and_reproduces(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    answer = _get(session, f"Bearer {token}", releases)
    assert answer.status == 200
    (delivery,) = session.scalars(select(Delivery)).all()
    assert delivery.path is None and delivery.status == "ready"
    assert delivery.sha256 == hashlib.sha256(answer.body).hexdigest()
    assert delivery.options["size"] == len(answer.body)
    assert delivery.options["revision"] == 1 and delivery.options["format"] == "json"
    assert delivery.expires_at == AT + timedelta(days=1)
    assert dict(answer.headers)["X-Delivery-Id"] == delivery.id
    assert reproduce_answer(releases, delivery) == answer.body
    csv_answer = _get(session, f"Bearer {token}", releases, accept="text/csv",
                      area_level="township")
    recorded = session.get(Delivery, dict(csv_answer.headers)["X-Delivery-Id"])
    assert reproduce_answer(releases, recorded) == csv_answer.body
    recorded.sha256 = "0" * 64  # a record that no longer matches is said so, not served
    with pytest.raises(ValueError, match="differs"):
        reproduce_answer(releases, recorded)


def test_large_answers_come_in_pages(
    session: Session, world: World, token: str, releases: Path
) -> None:
    whole = _get(session, f"Bearer {token}", releases).json()["rows"]
    total = len(whole)
    assert total > 10
    size = 7
    pages = -(-total // size)
    rows, headers = [], {}
    for page in range(1, pages + 1):
        answer = _get(session, f"Bearer {token}", releases, page=str(page),
                      page_size=str(size))
        headers = dict(answer.headers)
        assert answer.status == 200 and headers["X-Page"] == str(page)
        assert (headers["X-Total-Rows"], headers["X-Page-Count"]) == (str(total), str(pages))
        rows += answer.json()["rows"]
        if page < pages:
            assert f"page={page + 1}&page_size=7>; rel=\"next\"" in headers["Link"]
    assert rows == whole
    assert 'rel="next"' not in headers.get("Link", "")
    past = _get(session, f"Bearer {token}", releases, page=str(pages + 1), page_size=str(size))
    assert past.status == 404 and past.json()["parameter"] == "page"


def test_daily_volume_per_agency_is_limited_and_resets_at_taipei_midnight(
    session: Session, world: World, token: str, releases: Path
) -> None:
    one = _get(session, f"Bearer {token}", releases, area_code="63000")
    size = len(one.body)
    limits = ApiLimits(daily_bytes=3 * size + 10)
    late = datetime(2025, 4, 20, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Taipei
    statuses = [_get(session, f"Bearer {token}", releases, late, limits=limits,
                     area_code="63000").status for _ in range(5)]
    # the morning's answer counts too: the 3rd of the evening would pass 3 × size + 10
    assert statuses == [200, 200, 429, 429, 429]
    refused = _get(session, f"Bearer {token}", releases, late, limits=limits, area_code="63000")
    assert ("Retry-After", "1") in refused.headers
    assert len(_actions(session, "api.volume_exceeded")) == 1  # once per day, not per request
    midnight = datetime(2025, 4, 20, 16, 0, 0, tzinfo=UTC)  # 00:00:00 on the 21st in Taipei
    assert _get(session, f"Bearer {token}", releases, midnight, limits=limits,
                area_code="63000").status == 200


# ---------------------------------------------------------------- 11.3: outages (point 15)


@pytest.fixture
def offline(releases: Path, tmp_path: Path) -> Path:
    """The releases' mount point with the share not mounted: an empty folder."""
    (tmp_path / "store").mkdir()
    return tmp_path / "store"


def test_release_store_offline_is_503_an_outage_not_a_refusal(
    session: Session, world: World, token: str, offline: Path
) -> None:
    answer = _get(session, f"Bearer {token}", offline)
    assert answer.status == 503
    assert ("Retry-After", "300") in answer.headers
    assert "provider's system is failing" in answer.json()["error"]
    assert "resend the query after the repair" in answer.json()["error"]
    assert not _actions(session, "access.refused")
    (outage,) = _actions(session, "api.outage")
    assert outage.details["component"] == "release store" and outage.agency_id == world.agency.id
    listing = releases_answer(session, f"Bearer {token}", offline, AT)
    assert listing.status == 503  # not an empty list of releases


def test_a_missing_table_file_is_an_outage(
    session: Session, world: World, token: str, releases: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "store"
    shutil.copytree(releases, copy, symlinks=True)
    for file in (copy / ".revisions" / "2025-03").glob("r*/population.parquet"):
        file.unlink()
    assert _get(session, f"Bearer {token}", copy).status == 503
    assert _count(session, Delivery) == 0


def _break_delivery_records(session: Session) -> None:
    """Make the database refuse new delivery rows (a real failure of the database)."""
    if session.bind.dialect.name == "sqlite":  # type: ignore[union-attr]
        session.execute(text("CREATE TRIGGER no_room BEFORE INSERT ON deliveries "
                             "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"))
    else:
        session.execute(text("CREATE FUNCTION no_room() RETURNS trigger AS $$ BEGIN "
                             "RAISE EXCEPTION 'could not extend file'; END $$ LANGUAGE plpgsql"))
        session.execute(text("CREATE TRIGGER no_room BEFORE INSERT ON deliveries "
                             "FOR EACH ROW EXECUTE FUNCTION no_room()"))
    session.commit()


def test_no_200_for_an_answer_whose_record_failed(
    session: Session, world: World, token: str, releases: Path
) -> None:
    _break_delivery_records(session)
    answer = _get(session, f"Bearer {token}", releases)
    assert answer.status == 503 and ("Retry-After", "300") in answer.headers
    assert _count(session, Delivery) == 0 and not _actions(session, "query")
    (outage,) = _actions(session, "api.outage")
    assert outage.details["component"] == "database"


def test_a_table_the_release_never_held_is_404_not_an_outage(
    session: Session, world: World, releases: Path
) -> None:
    """A month's release holds no life table (years only) and a v1 release no v2-only table:
    that is the request's matter (404), not a failing store (503)."""
    grant_taipei(session, world, ["life_table", "fertility"], ["online_query"])
    value = issue_token(session, world.user, NOW)
    session.commit()
    for table in ("life_table", "fertility"):
        answer = _get(session, f"Bearer {value}", releases, table=table)
        assert answer.status == 404, answer.body
        assert f"{table} is not in release 2025-03" in answer.json()["error"]
    assert _count(session, Delivery) == 0
