"""Single-area answers of the online query API (issue 15): the same rows as the whole table
filtered, in the file's order, made with less work — fewer statements per answer, no
database lock held while the release is read, and a revision's manifest and area list
read once per process (but afresh when the file is replaced)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from access import api, api_release, audit
from access.accounts import issue_token
from access.api import table_answer
from access.db import make_engine
from access.grants import approve, submit
from access.models import AuditEntry, Delivery
from stats.publication import published_revision_dir
from tests.access.conftest import LEGAL_BASIS, NOW, PURPOSE, World, full_rules, grant_taipei

AT = datetime(2025, 4, 20, tzinfo=UTC)  # after the fixture's publication (2025-04-15)
TABLE = "population_by_age"


def _token(session: Session, world: World) -> str:
    value = issue_token(session, world.user, NOW)
    session.commit()
    return f"Bearer {value}"


def _national(session: Session, world: World) -> str:
    """``world.user``'s agency granted population_by_age nationally (by MOI)."""
    app = submit(session, world.agency, world.moi, [TABLE], ["00000"], ["online_query"],
                 PURPOSE, full_rules(), NOW, legal_basis=LEGAL_BASIS, by=world.user)
    approve(session, app, world.moi_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    session.commit()
    return _token(session, world)


def _ask(session: Session, auth: str, releases: Path, **params: str):  # noqa: ANN202
    return table_answer(session, auth, releases, TABLE, {"period": "2025-03", **params}, None,
                        AT)


def _whole_table_filtered(releases: Path, code: str) -> list[list]:
    """What a single-area answer must hold: the release file read whole, then filtered."""
    frame = pl.read_parquet(releases / "2025-03" / f"{TABLE}.parquet")
    return json.loads(frame.filter(pl.col("area_code") == code).write_json())


def _as_records(body: dict) -> list[dict]:
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def _codes(releases: Path, level: str, prefix: str) -> list[str]:
    areas = pl.read_parquet(releases / "2025-03" / "areas.parquet")
    return areas.filter(pl.col("area_level") == level,
                        pl.col("area_code").str.starts_with(prefix))["area_code"].to_list()


@pytest.mark.parametrize("grant", ["national", "county"])
def test_single_area_rows_equal_the_whole_table_filtered(
    session: Session, world: World, releases: Path, grant: str
) -> None:
    auth = (_national(session, world) if grant == "national" else
            (grant_taipei(session, world, [TABLE], ["online_query"]), _token(session, world))[1])
    asked = ["63000", _codes(releases, "township", "63000")[-1],
             _codes(releases, "village", "63000")[0]]
    for code in asked:
        answer = _ask(session, auth, releases, area_code=code)
        assert answer.status == 200, answer.body
        rows = _as_records(answer.json())
        assert rows and rows == _whole_table_filtered(releases, code), code
        assert ("X-Total-Rows", str(len(rows))) in answer.headers
    # with its own level: the same rows (another level is a 400: api_params)
    township = asked[1]
    same = _ask(session, auth, releases, area_code=township, area_level="township")
    assert _as_records(same.json()) == _whole_table_filtered(releases, township)


def test_an_area_outside_the_grant_is_still_refused_and_audited(
    session: Session, world: World, releases: Path
) -> None:
    grant_taipei(session, world, [TABLE], ["online_query"])
    auth = _token(session, world)
    answer = _ask(session, auth, releases, area_code=_codes(releases, "township", "64000")[0])
    assert answer.status == 403
    refused = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "access.refused")).all()
    assert len(refused) == 1 and refused[0].details["channel"] == "online_query"
    assert session.scalars(select(Delivery)).all() == []


def test_a_single_area_answer_takes_few_statements(
    session: Session, world: World, releases: Path
) -> None:
    """The token with its user in one query, the grants read once, the audit chain's head
    read once per transaction: 11 statements before on SQLite and 13 on PostgreSQL (its
    chain lock taken twice), then 8 and 9, now 7 and 8 (the daily volume checked and charged
    in one statement)."""
    auth = _national(session, world)
    township = _codes(releases, "township", "63000")[0]
    assert _ask(session, auth, releases, area_code=township).status == 200  # warm
    statements: list[str] = []
    bind = session.get_bind()

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    session.expunge_all()  # as a server's fresh session per request: nothing loaded yet
    event.listen(bind, "before_cursor_execute", count)
    try:
        assert _ask(session, auth, releases, area_code=township).status == 200
    finally:
        event.remove(bind, "before_cursor_execute", count)
    work = [s for s in statements if not s.startswith(("BEGIN", "SELECT 1"))]
    most = 8 if bind.dialect.name == "postgresql" else 7
    assert len(work) <= most, f"{len(work)}: " + "\n".join(work)


def test_no_database_lock_is_held_while_the_release_is_read(
    session: Session, world: World, releases: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite begins every transaction with BEGIN IMMEDIATE: an answer that read the
    release inside its transaction made every other request of every agency wait."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        pytest.skip("PostgreSQL readers hold no lock that blocks a writer")
    auth = _national(session, world)
    other = make_engine(str(bind.url), connect_args={"timeout": 0.2})
    written: list[bool] = []
    render = api.render_page

    def render_while_another_writes(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            with other.begin() as conn:  # BEGIN IMMEDIATE: waits for any writer's lock
                conn.execute(text("SELECT 1"))
            written.append(True)
        except OperationalError:
            written.append(False)
        return render(*args, **kwargs)

    monkeypatch.setattr(api, "render_page", render_while_another_writes)
    try:
        answer = _ask(session, auth, releases, area_code="63000")
    finally:
        other.dispose()
    assert answer.status == 200 and written == [True]


def test_a_replaced_manifest_or_area_list_is_read_afresh(tmp_path: Path) -> None:
    """Kept per process by the file's identity: a revision removed and built again under
    the same folder name is not answered from the old one."""
    folder = tmp_path / "r0001"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"revision": 1, "note": "first"}))
    pl.DataFrame({"area_code": ["63000"]}).write_parquet(folder / "areas.parquet")
    assert api_release.manifest(folder)["note"] == "first"
    assert api_release.area_codes(folder) == {"63000"}
    assert api_release.manifest(folder) is api_release.manifest(folder)  # kept
    staged = tmp_path / "new.json"
    staged.write_text(json.dumps({"revision": 1, "note": "built again, longer"}))
    staged.replace(folder / "manifest.json")  # a new file (inode), as a rebuild writes
    pl.DataFrame({"area_code": ["63000", "64000"]}).write_parquet(tmp_path / "a.parquet")
    (tmp_path / "a.parquet").replace(folder / "areas.parquet")
    assert api_release.manifest(folder)["note"] == "built again, longer"
    assert api_release.area_codes(folder) == {"63000", "64000"}


def test_published_revision_agrees_with_the_publication_rules(releases: Path) -> None:
    for moment in (datetime(2025, 4, 1, tzinfo=UTC), AT):
        assert (api_release.published_revision(releases, "2025-03", moment)
                == published_revision_dir(releases, "2025-03", moment))
    assert api_release.published_revision(releases, "2025-03", datetime(2025, 4, 1,
                                                                         tzinfo=UTC)) is None


def test_audit_entries_of_one_transaction_chain_through_a_rolled_back_savepoint(
    session: Session,
) -> None:
    """The chain's head is read once per transaction; an entry of a savepoint rolled back
    is not taken for the head."""
    audit.record(session, "system", "test.one", "x:1", NOW)
    audit.record(session, "system", "test.two", "x:2", NOW)
    nested = session.begin_nested()
    audit.record(session, "system", "test.gone", "x:3", NOW)
    nested.rollback()
    audit.record(session, "system", "test.three", "x:4", NOW)
    session.commit()
    audit.record(session, "system", "test.four", "x:5", NOW)
    session.commit()
    entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
    assert [e.action for e in entries][-4:] == ["test.one", "test.two", "test.three",
                                                "test.four"]
    seqs = [e.seq for e in entries]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert audit.verify(session).ok
