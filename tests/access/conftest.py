"""Fixtures: every access test runs on a fresh SQLite file AND on PostgreSQL (own schema)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from access.db import make_engine, session_factory, upgrade_engine
from popstats.access_cli import register
from sample_data.generator import write_sample
from stats.codes import demo_code_table
from stats.periods import Period
from stats.publication import publish
from stats.release import build_release

PG_URL = os.environ.get("POPSTATS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
NOW = datetime(2025, 3, 10, 2, 0, tzinfo=UTC)  # 2025-03-10 10:00 in Taipei


def _pg_reachable() -> str | None:
    probe = create_engine(PG_URL, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable"
        return f"{type(exc).__name__}: {exc}"
    finally:
        probe.dispose()
    return None


@pytest.fixture(scope="session")
def pg_problem() -> str | None:
    """Why PostgreSQL cannot be used (None = reachable)."""
    return _pg_reachable()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path: object, pg_problem: str | None
) -> Iterator[str]:
    """A database URL: a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/access.db"
        return
    if pg_problem is not None:
        message = f"PostgreSQL at {PG_URL} unreachable ({pg_problem}); set POPSTATS_TEST_PG_URL"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated once; each test starts from a copy of it."""
    path = tmp_path_factory.mktemp("template") / "access.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade_engine(eng)
    eng.dispose()
    return path


@pytest.fixture
def engine(db_url: str, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated database (SQLite: a copy of the migrated template, then upgraded: a no-op)."""
    if db_url.startswith("sqlite:///"):
        shutil.copyfile(sqlite_template, db_url.removeprefix("sqlite:///"))
    eng = make_engine(db_url)
    upgrade_engine(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database."""
    with session_factory(engine)() as s:
        yield s


@pytest.fixture(autouse=True)
def audit_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A signing key for checkpoints."""
    monkeypatch.setenv("POPSTATS_AUDIT_KEY", "test-secret")


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2 with the cheapest parameters: the tests check logic, not hashing cost."""
    from argon2 import PasswordHasher

    from access import accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    monkeypatch.setattr(accounts, "_hasher", cheap)
    monkeypatch.setattr(accounts, "_DUMMY_HASH", cheap.hash("not a password"))


PASSWORD = "lantern-river-4821"  # every user of the World (the password policy's example)
PURPOSE = "人口政策研究"  # six characters: the shortest purpose accepted
LEGAL_BASIS = "戶籍法第65條"


class World:
    """MOI, two county providers, two agencies and one user each (not yet granted anything)."""

    def __init__(self, session: Session) -> None:
        from access.accounts import add_user, ensure_standard_providers
        from access.agencies import add_agency

        providers = ensure_standard_providers(session)
        self.moi, self.taipei_gov, self.khh_gov = (
            providers["MOI"],
            providers["63000"],
            providers["64000"],
        )
        self.moi_official = add_user(
            session, "moi", PASSWORD, "provider_official", NOW, provider=self.moi
        )
        self.taipei_official = add_user(
            session, "tp", PASSWORD, "provider_official", NOW, provider=self.taipei_gov
        )
        self.khh_official = add_user(
            session, "khh", PASSWORD, "provider_official", NOW, provider=self.khh_gov
        )
        self.statistician = add_user(
            session, "stat", PASSWORD, "provider_statistician", NOW, provider=self.moi
        )
        self.agency = add_agency(session, "衛生福利部", NOW, code="A21000000I", kind="central",
                                 by=self.moi_official)
        self.other_agency = add_agency(session, "國家發展委員會", NOW, code="A15000000H",
                                       kind="central", by=self.moi_official)
        self.user = add_user(session, "alice", PASSWORD, "agency_user", NOW, agency=self.agency)
        self.other_user = add_user(session, "ndc_user", PASSWORD, "agency_user", NOW,
                                   agency=self.other_agency)
        session.commit()

    def applicant(self, agency: object) -> object:
        """The user who applies for ``agency``."""
        return self.user if agency is self.agency else self.other_user


@pytest.fixture
def world(session: Session) -> World:
    """The parties of a test."""
    return World(session)


def full_rules() -> dict[str, str]:
    """Management rules addressing all eight items of point 13."""
    from access.grants import RULE_ITEMS

    return {key: f"本機關已訂定：{label}" for key, label in RULE_ITEMS.items()}


def grant_taipei(session: Session, world: World, tables: list[str], channels: list[str]):  # noqa: ANN201
    """Grant ``world.user``'s agency the tables for 臺北市 (63000) through the channels,
    approved by the Taipei provider, valid 2025-01-01 … 2099-12-31; returns the grant."""
    from datetime import date

    from access.grants import approve, submit

    app = submit(session, world.agency, world.taipei_gov, tables, ["63000"], channels, PURPOSE,
                 full_rules(), NOW, legal_basis=LEGAL_BASIS, by=world.user)
    grant = approve(session, app, world.taipei_official, date(2025, 1, 1), date(2099, 12, 31), NOW)
    session.commit()
    return grant


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """RELEASES with 2025-03 built from a small demo sample and published on 2025-04-15."""
    root = tmp_path_factory.mktemp("releases")
    codes = demo_code_table()
    period = Period.parse("2025-03")
    write_sample(  # a v1 extract: one test needs a release without the v2-only tables
        root / "extract", scale=0.001, seed=3, start=period.months[0], months=1, codes=codes,
        version=1,
    )
    build_release(root / "extract", period, root / "releases", codes)
    publish(root / "releases", "2025-03", by="stat", now=datetime(2025, 4, 15, tzinfo=UTC))
    return root / "releases"


@pytest.fixture
def cli() -> click.Group:
    """A bare ``popstats`` group with the access commands registered."""

    @click.group()
    def main() -> None:
        """popstats"""

    register(main)
    return main
