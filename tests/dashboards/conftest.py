"""One served demo for the dashboard tests: releases of 2024-03, 2025-01…03 and 2025-Q1
published, 2024-12 built but not published, and the contract's demo accounts."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from dashboards.app import ServerSettings, create_app
from popstats.cli import main

PUBLISHED = ("2024-03", "2025-01", "2025-02", "2025-03", "2025-Q1")
UNPUBLISHED = ("2024-12",)


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("dash")
    releases, db = root / "releases", f"sqlite:///{root / 'access.db'}"
    _run("sample", "--out", str(root / "x"), "--scale", "0.002", "--start", "2024-03",
         "--months", "13")
    for period in PUBLISHED + UNPUBLISHED:
        _run("build", "--input", str(root / "x"), "--period", period, "--out", str(releases))
    for period in PUBLISHED:
        _run("publish", "--releases", str(releases), "--period", period, "--by", "stat")
    accounts = {a["username"]: a for a in json.loads(_run("demo-accounts", "--db", db, "--json"))}
    settings = ServerSettings(releases=releases, db_url=db, outbox=root / "outbox")
    return {"app": create_app(settings), "accounts": accounts, "db": db, "root": root,
            "releases": releases, "outbox": root / "outbox", "settings": settings}


class FakeClock:
    """A clock the test moves: ``create_app(settings, clock)`` calls ``clock.now(UTC)``."""

    def __init__(self, moment: datetime | None = None) -> None:
        self.moment = moment or datetime.now(UTC)

    def now(self, tz=UTC) -> datetime:  # noqa: ANN001 - datetime.now's signature
        return self.moment.astimezone(tz)

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def private(served: dict, tmp_path) -> dict:
    """The served releases with a copy of the database and a movable clock: for tests that
    suspend, grant, expire or otherwise change state the other tests share."""
    db_file = tmp_path / "access.db"
    shutil.copyfile(served["root"] / "access.db", db_file)
    clock = FakeClock()
    settings = ServerSettings(releases=served["releases"], db_url=f"sqlite:///{db_file}",
                              outbox=tmp_path / "outbox")
    return {**served, "app": create_app(settings, clock), "db": settings.db_url,
            "outbox": settings.outbox, "settings": settings, "clock": clock}
