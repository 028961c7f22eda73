"""A served demo holding the CONTRACT §8 tables, for the pages of issue 14's programme.

Published: the year 2024, its last quarter and its December, from a sample made v2 (the §8
columns added by rule, ``tests/stats/v2_frames.py``, so the test does not depend on what
``popstats sample`` writes by default), and January 2025 from a v1 extract (no v2-only
tables, no life table): a reader who picks it must be told the table is not in that release.

``grant_agency`` adds an agency whose one user holds a grant of just some tables and areas.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from access import accounts, agencies, grants
from access.calendar import local_date
from access.db import make_engine, session_factory
from access.demo import CHANNELS, DEMO_LEGAL_BASIS, DEMO_PURPOSE, DEMO_RULES
from access.models import User
from dashboards.app import ServerSettings, create_app
from popstats.cli import main
from stats.schemas import EVENT_V2_COLUMNS, RESIDENT_V2_COLUMNS
from tests.stats.v2_frames import v2_events, v2_residents

V2_PERIODS = ("2024", "2024-Q4", "2024-12")
V1_PERIOD = "2025-01"
OFFICIALS = {"MOI": "moi_official", "63000": "taipei_official", "64000": "kaohsiung_official"}


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _rewrite(folder: Path, v2: bool) -> None:
    """Make every file of an extract v2 (columns by rule) or v1 (the §8 columns dropped)."""
    for path in folder.glob("*.parquet"):
        frame = pl.read_parquet(path)
        residents = path.name.startswith("residents")
        if v2:
            frame = v2_residents(frame) if residents else v2_events(frame)
        else:
            extra = RESIDENT_V2_COLUMNS if residents else EVENT_V2_COLUMNS
            frame = frame.drop([c for c in extra if c in frame.columns])
        frame.write_parquet(path)


@pytest.fixture(scope="session", name="programme")
def programme_served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("programme-dash")
    releases, db = root / "releases", f"sqlite:///{root / 'access.db'}"
    _run("sample", "--out", str(root / "v2"), "--scale", "0.002", "--start", "2024-01",
         "--months", "12")
    _rewrite(root / "v2", v2=True)
    _run("sample", "--out", str(root / "v1"), "--scale", "0.002", "--seed", "5",
         "--start", "2025-01", "--months", "1")
    _rewrite(root / "v1", v2=False)
    for period in V2_PERIODS:
        _run("build", "--input", str(root / "v2"), "--period", period, "--out", str(releases))
    _run("build", "--input", str(root / "v1"), "--period", V1_PERIOD, "--out", str(releases))
    for period in (*V2_PERIODS, V1_PERIOD):
        _run("publish", "--releases", str(releases), "--period", period, "--by", "stat")
    accounts_ = {a["username"]: a for a in json.loads(_run("demo-accounts", "--db", db, "--json"))}
    settings = ServerSettings(releases=releases, db_url=db, outbox=root / "outbox")
    return {"app": create_app(settings), "accounts": accounts_, "db": db, "root": root,
            "releases": releases, "outbox": root / "outbox", "settings": settings}


def grant_agency(served: dict, username: str, tables: tuple[str, ...],
                 areas: tuple[str, ...]) -> str:
    """A new agency whose one user ``username`` holds a grant (approved by MOI) of ``tables``
    for ``areas``; returns the password (added to ``served["accounts"]``)."""
    now = datetime.now(UTC)
    password = secrets.token_urlsafe(12)
    with session_factory(make_engine(served["db"]))() as session:
        providers = accounts.ensure_standard_providers(session)
        provider = grants.provider_code_for(areas)  # point 6: a county's own data, its own
        official = session.scalar(select(User).where(User.username == OFFICIALS[provider]))
        code = f"A{secrets.randbelow(10**8):08d}H"
        agency = agencies.add_agency(session, f"測試機關{username}", now, code=code,
                                     kind="central", by=official)
        user = accounts.add_user(session, username, password, "agency_user", now,
                                 agency=agency)
        application = grants.submit(session, agency, providers[provider], tables, areas, CHANNELS,
                                    DEMO_PURPOSE, DEMO_RULES, now, legal_basis=DEMO_LEGAL_BASIS,
                                    by=user)
        today = local_date(now)
        grants.approve(session, application, official, today - timedelta(days=1),
                       today + timedelta(days=365), now)
        session.commit()
    served["accounts"][username] = {"username": username, "password": password}
    return password
