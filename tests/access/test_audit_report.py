"""Point 18: the periodic audit report counts, per agency, what it obtained and what it was
refused or sanctioned in a period (Taipei dates), and says whether the log is intact."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import click
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from access import audit, checkpoints
from access.audit_report import periodic_report, render_html
from access.models import Agency
from tests.access.conftest import NOW

# 2025-03-31 23:59:59 and 2025-04-01 00:00:00 in Taipei
LAST_SECOND_OF_Q1 = datetime(2025, 3, 31, 15, 59, 59, tzinfo=UTC)
FIRST_SECOND_OF_Q2 = datetime(2025, 3, 31, 16, 0, 0, tzinfo=UTC)


def _agencies(session: Session) -> tuple[int, int]:
    a = Agency(name="臺北市政府主計處", created_at=NOW)
    b = Agency(name='=HYPERLINK("http://evil.example","x")', created_at=NOW)
    session.add_all([a, b])
    session.flush()
    return a.id, b.id


def _entries(session: Session, a: int, b: int) -> None:
    for action, agency, when in [
        ("query", a, NOW), ("query", a, NOW), ("view", a, NOW), ("download", a, NOW),
        ("delivery.created", a, NOW), ("access.refused", a, NOW), ("download.refused", a, NOW),
        ("grant.suspended", a, LAST_SECOND_OF_Q1),
        ("grant.restored", a, FIRST_SECOND_OF_Q2),  # next quarter: not counted
        ("query", b, datetime(2024, 12, 31, 15, 59, 59, tzinfo=UTC)),  # 2024-12-31 23:59:59
        ("query", b, datetime(2024, 12, 31, 16, 0, 0, tzinfo=UTC)),  # 2025-01-01 00:00:00
        ("login.failed", b, NOW),
    ]:
        audit.record(session, "someone", action, "x", when, {}, agency_id=agency)
    audit.record(session, "official", "grant.approved", "grant:1", NOW, {})  # no agency
    session.commit()


def test_counts_per_agency_on_taipei_dates(session: Session) -> None:
    a, b = _agencies(session)
    _entries(session, a, b)
    report = periodic_report(session, date(2025, 1, 1), date(2025, 3, 31), NOW)
    rows = {r["agency_id"]: r for r in report.rows}
    assert set(rows) == {a, b}
    assert {k: rows[a][k] for k in ("queries", "downloads", "deliveries", "refusals",
                                    "sanctions", "entries")} == {
        "queries": 3, "downloads": 1, "deliveries": 1, "refusals": 2, "sanctions": 1,
        "entries": 8}
    assert (rows[b]["queries"], rows[b]["entries"]) == (1, 2)
    assert report.log_ok and report.head_seq == 13


def test_html_in_chinese_names_the_period_and_the_log_state(session: Session) -> None:
    a, b = _agencies(session)
    _entries(session, a, b)
    page = render_html(periodic_report(session, date(2025, 1, 1), date(2025, 3, 31), NOW))
    assert "114年1月1日 – 114年3月31日" in page and "稽核紀錄完整（至第 13 筆）" in page
    assert "臺北市政府主計處" in page and "線上查詢及瀏覽" in page
    assert "<script" not in page and "&quot;http://evil.example&quot;" in page  # escaped


def test_cli_writes_a_formula_safe_csv_and_an_html_report(
    cli: click.Group, db_url: str, session: Session, engine: Engine, tmp_path
) -> None:
    a, b = _agencies(session)
    _entries(session, a, b)
    runner = CliRunner()
    out = tmp_path / "q1.csv"
    made = runner.invoke(cli, ["audit", "report", "--period", "2025-Q1", "--out", str(out),
                               "--db", db_url])
    assert made.exit_code == 0, made.output
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:2] == ["機關", "線上查詢及瀏覽"]
    evil = next(r for r in rows[1:] if "HYPERLINK" in r[0])
    assert evil[0].startswith("'=")
    page = tmp_path / "q1.html"
    made = runner.invoke(cli, ["audit", "report", "--period", "2025-Q1", "--out", str(page),
                               "--lang", "en", "--db", db_url])
    assert made.exit_code == 0 and "Online queries and views" in page.read_text(encoding="utf-8")
    # making the report is itself audited, after the fact
    assert session.execute(text(
        "SELECT count(*) FROM audit_entries WHERE action = 'audit.report'")).scalar() == 2


def test_report_says_when_the_log_is_broken(session: Session, engine: Engine, cli: click.Group,
                                            db_url: str, tmp_path) -> None:
    a, b = _agencies(session)
    _entries(session, a, b)
    checkpoints.unsigned_checkpoint(session, "maintenance", NOW)
    session.commit()
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq > 10"))
    out = tmp_path / "q1.html"
    made = CliRunner().invoke(cli, ["audit", "report", "--period", "2025-Q1", "--out", str(out),
                                    "--db", db_url])
    assert made.exit_code == 0 and "DOES NOT VERIFY" in made.output
    assert "稽核紀錄驗證失敗" in out.read_text(encoding="utf-8")


def test_period_or_days_not_both(cli: click.Group, db_url: str) -> None:
    runner = CliRunner()
    both = runner.invoke(cli, ["audit", "report", "--period", "2025-Q1", "--from", "2025-01-01",
                               "--to", "2025-03-31", "--out", "x.html", "--db", db_url])
    assert both.exit_code == 2 and "not both" in both.output
    bad = runner.invoke(cli, ["audit", "report", "--period", "2025-Q5", "--out", "x.html",
                              "--db", db_url])
    assert bad.exit_code == 2 and "--period" in bad.output
