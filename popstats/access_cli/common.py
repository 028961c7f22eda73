"""Shared pieces of the access commands: the --db option, sessions, look-ups, output."""


from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from access.accounts import AccessError
from access.checkpoints import AuditKeyMissing
from access.calendar import local_date
from access.db import DEFAULT_URL, database_url, make_engine, session_factory, upgrade_engine
from access.models import (
    Agency,
    Grant,
    User,
)
from exports import UnknownEncoding, UnknownFormat

F = TypeVar("F", bound=Callable[..., Any])


def db_option(func: F) -> F:
    """The ``--db URL`` option every access command takes."""
    return click.option(
        "--db",
        "db",
        default=None,
        metavar="URL",
        help=f"Database URL (sqlite:///FILE or postgresql+psycopg://USER@HOST/DB); "
        f"default: $POPSTATS_DB, else {DEFAULT_URL}.",
    )(func)


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _session(db: str | None) -> Iterator[Session]:
    """A session on the migrated database; commits on success; domain errors → messages."""
    engine = make_engine(database_url(db))
    try:
        upgrade_engine(engine)
        with session_factory(engine)() as session:
            try:
                yield session
                session.commit()
            except (AccessError, AuditKeyMissing, UnknownFormat, UnknownEncoding) as exc:
                session.rollback()
                raise click.ClickException(str(exc)) from exc
    finally:
        engine.dispose()


def _one(session: Session, model: Any, column: Any, value: Any, what: str) -> Any:
    found = session.scalar(select(model).where(column == value))
    if found is None:
        raise click.ClickException(f"no {what} {value!r}")
    return found


def _agency(session: Session, name: str) -> Agency:
    return _one(session, Agency, Agency.name, name, "agency")  # type: ignore[no-any-return]


def _user(session: Session, username: str) -> User:
    return _one(session, User, User.username, username, "user")  # type: ignore[no-any-return]


def _by(session: Session, username: str) -> User:
    return _user(session, username)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _grant_record(grant: Grant) -> dict[str, Any]:
    return {
        "id": grant.id,
        "agency": grant.agency.name,
        "provider": grant.provider.name,
        "tables": grant.tables,
        "areas": grant.areas,
        "channels": grant.channels,
        "valid_from": str(local_date(grant.valid_from)),  # first day, Asia/Taipei
        "valid_to": str(local_date(grant.valid_to - timedelta(microseconds=1))),  # last day
        "state": grant.state,
        "ends_at": grant.ends_at.isoformat() if grant.ends_at else None,
    }


DATE = click.DateTime(formats=["%Y-%m-%d"])


def _date(value: datetime | None) -> date | None:
    return value.date() if value else None


def by_option(help_text: str) -> Callable[[F], F]:
    """The ``--by USERNAME`` option of a governance command: the acting account, checked
    (it exists and has the role for the action) and named in the audit log."""

    def decorate(func: F) -> F:
        return click.option("--by", "by", required=True, metavar="USERNAME", help=help_text)(func)

    return decorate


def _rules_file(path: Any) -> dict[str, Any]:
    """A management-rules JSON file, checked: a clear error naming the file, never a traceback."""
    from access.rules import parse_rules

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{path}: cannot read the rules file ({exc})") from exc
    try:
        return parse_rules(text, str(path))
    except AccessError as exc:
        raise click.ClickException(str(exc)) from exc
