"""The periodic audit report of point 18: per agency, what it obtained and what it was refused
or sanctioned in a period, and whether the log it is drawn from is intact.

The provider keeps "connection records and logs of information provided" and both sides
audit periodically; this is the document an auditor keeps for a quarter (or any period):
counted in the database (one GROUP BY over the period's entries), stamped with the chain's
head and the verification result, rendered as HTML (zh-TW or English) or CSV.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from access import checkpoints
from access.calendar import end_of_day, start_of_day
from access.models import Agency, AuditEntry
from stats.taipei import format_date, format_time

# What each column counts: the audit actions that make it up.
COLUMNS: dict[str, tuple[str, ...]] = {
    "queries": ("query", "view"),
    "downloads": ("download", "delivery.fetched"),
    "deliveries": ("delivery.created",),
}
SANCTIONS = ("grant.suspended", "grant.restored", "grant.lapsed", "grant.termination_requested",
             "grant.terminated")
HEADERS = {
    "zh": {"agency": "機關", "queries": "線上查詢及瀏覽", "downloads": "下載",
           "deliveries": "交付件數", "refusals": "拒絕", "sanctions": "停止、恢復及終止",
           "entries": "紀錄筆數"},
    "en": {"agency": "Agency", "queries": "Online queries and views", "downloads": "Downloads",
           "deliveries": "Deliveries (all channels)", "refusals": "Refusals",
           "sanctions": "Suspensions, restorations, terminations", "entries": "Entries"},
}
FIELDS = ("queries", "downloads", "deliveries", "refusals", "sanctions", "entries")


@dataclass(frozen=True)
class PeriodicReport:
    """The counts per agency and the state of the log they were drawn from."""

    first: date
    last: date
    made_at: datetime
    rows: list[dict[str, Any]]
    log_ok: bool
    log_problems: list[str]
    head_seq: int
    head_hash: str


def _column_of(action: str) -> str | None:
    for column, actions in COLUMNS.items():
        if action in actions:
            return column
    if action.endswith(".refused") or action == "access.refused":
        return "refusals"
    if action in SANCTIONS:
        return "sanctions"
    return None


def periodic_report(session: Session, first: date, last: date, now: datetime,
                    agency_ids: list[int] | None = None) -> PeriodicReport:
    """Counts per agency of the entries from ``first`` to ``last`` (Taipei dates, inclusive)."""
    counted = (
        select(AuditEntry.agency_id, AuditEntry.action, func.count())
        .where(AuditEntry.agency_id.is_not(None), AuditEntry.time >= start_of_day(first),
               AuditEntry.time < end_of_day(last))
        .group_by(AuditEntry.agency_id, AuditEntry.action)
    )
    if agency_ids is not None:
        counted = counted.where(AuditEntry.agency_id.in_(agency_ids))
    per_agency: dict[int, dict[str, int]] = {}
    for agency_id, action, count in session.execute(counted):
        row = per_agency.setdefault(agency_id, dict.fromkeys(FIELDS, 0))
        row["entries"] += count
        if (column := _column_of(action)) is not None:
            row[column] += count
    names = dict(session.execute(select(Agency.id, Agency.name)).all())
    wanted = agency_ids if agency_ids is not None else sorted(per_agency)
    rows = [{"agency_id": a, "agency": names.get(a, f"#{a}"),
             **per_agency.get(a, dict.fromkeys(FIELDS, 0))} for a in wanted]
    verification = checkpoints.verify_log(session)
    return PeriodicReport(first, last, now, rows, verification.ok, verification.problems,
                          verification.head_seq, verification.head_hash)


def report_frame(report: PeriodicReport, lang: str = "zh") -> pl.DataFrame:
    """The counts as a table with headers in ``lang`` (for the CSV form)."""
    labels = HEADERS[lang]
    columns = {labels["agency"]: pl.Series([r["agency"] for r in report.rows], dtype=pl.String)}
    columns |= {labels[f]: pl.Series([r[f] for r in report.rows], dtype=pl.Int64) for f in FIELDS}
    return pl.DataFrame(columns)


def render_html(report: PeriodicReport, lang: str = "zh") -> str:
    """A self-contained page an auditor can print or keep."""
    zh = lang == "zh"
    labels = HEADERS[lang]
    esc = html.escape
    title = "戶役政資訊連結作業稽核報告" if zh else "Linking operations audit report"
    span = f"{format_date(report.first, lang)} – {format_date(report.last, lang)}"
    if report.log_ok:
        state = (f"稽核紀錄完整（至第 {report.head_seq} 筆）" if zh
                 else f"The audit log is intact (up to entry {report.head_seq})")
    else:
        state = ("稽核紀錄驗證失敗：" if zh else "The audit log does NOT verify: ") + "; ".join(
            report.log_problems)
    head = "".join(f"<th scope='col'>{esc(labels[f])}</th>" for f in ("agency", *FIELDS))
    body = "".join(
        "<tr><th scope='row'>" + esc(r["agency"]) + "</th>"
        + "".join(f"<td>{r[f]:,}</td>" for f in FIELDS) + "</tr>"
        for r in report.rows
    ) or f"<tr><td colspan='{len(FIELDS) + 1}'>{'本期間無紀錄' if zh else 'No entries'}</td></tr>"
    made = format_time(report.made_at, lang, seconds=True)
    basis = ("依戶役政資訊連結作業要點第十八點，提供機關定期稽核提供資料紀錄。" if zh else
             "Point 18 of the linking-operations guidelines: the provider audits the records of "
             "information provided periodically.")
    return f"""<!DOCTYPE html>
<html lang="{'zh-Hant-TW' if zh else 'en'}"><head><meta charset="utf-8">
<title>{esc(title)} {esc(span)}</title>
<style>body{{font-family:"Noto Sans CJK TC","Noto Sans",sans-serif;margin:2em;}}
table{{border-collapse:collapse;}}th,td{{border:1px solid #888;padding:.3em .6em;}}
td{{text-align:right;}}th[scope=row]{{text-align:left;font-weight:normal;}}
.bad{{color:#a00;font-weight:bold;}}</style></head><body>
<h1>{esc(title)}</h1>
<p>{'期間' if zh else 'Period'}：{esc(span)}</p>
<p>{esc(basis)}</p>
<p class="{'ok' if report.log_ok else 'bad'}">{esc(state)}</p>
<p>{'紀錄鏈末筆雜湊' if zh else 'Chain head hash'}：<code>{esc(report.head_hash)}</code></p>
<table><caption>{'各機關取得資料、拒絕及處分筆數' if zh else
 'Data obtained, refusals and sanctions per agency'}</caption>
<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<p>{'製表時間' if zh else 'Made'}：{esc(made)}</p>
</body></html>
"""
