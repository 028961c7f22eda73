"""The Releases page's comparison of two revisions of a period (issue 13): the same comparison
``popstats report --compare`` prints (``stats.revision_compare``), as HTML tables, table by
table and area by area: cells changed by level, the areas most changed, the largest changes.

Provider staff only: the largest changes show figures, and the Releases page is otherwise
metadata that every logged-in user may read. The choice is a plain GET form
(``/releases?period=2025-03&old=1&new=2``), so a comparison has an address to share; what
the address asks is checked here and a wrong choice is said in words, never a 500.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dash import html

from dashboards.i18n import t
from stats.comparison_text import (
    change_line,
    headline,
    keys_label,
    level_label,
    measure_label,
    number,
    signed,
    table_summary,
    table_title,
)
from stats.release import ReleaseError, read_manifest, revision_dirs
from stats.revision_compare import compare_revisions

FORM_ID = "releases-compare"


def revisions_by_period(releases: Path) -> dict[str, list[int]]:
    """Periods with at least two revisions (something to compare), newest period first."""
    root = releases / ".revisions"
    periods = sorted((p.name for p in root.iterdir() if p.is_dir()), reverse=True) \
        if root.is_dir() else []
    found = {}
    for period in periods:
        numbers = [int(read_manifest(f)["revision"]) for f in revision_dirs(releases, period)]
        if len(numbers) >= 2:
            found[period] = numbers
    return found


def choice(releases: Path, period: str | None, old: str | None, new: str | None
           ) -> tuple[str, int, int] | str | None:
    """The comparison asked for, as (period, old, new), or a message saying what is wrong
    with the address, or None when nothing was asked. Without ``old``/``new``: the current
    revision against the one before it."""
    if not period:
        return None
    known = revisions_by_period(releases)
    if period not in known:
        return t(f"{period} 沒有兩個以上的版次可比較。",
                 f"{period} has no two revisions to compare.")
    numbers = known[period]
    try:
        new_number = int(new) if new else numbers[-1]
        old_number = int(old) if old else max(n for n in numbers if n < new_number)
    except ValueError:
        return t("版次須為數字。", "A revision is a number.")
    missing = [n for n in (old_number, new_number) if n not in numbers]
    if missing:
        listed = ", ".join(map(str, numbers))
        return t(f"{period} 沒有第 {missing[0]} 版（有：{listed}）。",
                 f"{period} has no revision {missing[0]} (it has {listed}).")
    if old_number == new_number:
        return t("請選兩個不同的版次。", "Choose two different revisions.")
    return period, old_number, new_number


def form(releases: Path, period: str | None, old: int | None, new: int | None) -> Any:
    """The GET form choosing a period and two of its revisions."""
    known = revisions_by_period(releases)
    if not known:
        return html.P(t("尚無重新產製的統計期可比較。", "No period has been revised yet."))
    top = max(max(n) for n in known.values())
    chosen = period if period in known else next(iter(known))

    def select(name: str, label: str, options: list[tuple[str, str]], value: str) -> Any:
        return html.Label([label, " ", html.Select(
            [html.Option(text, value=v, selected=(v == value)) for v, text in options],
            name=name, id=f"{FORM_ID}-{name}")])

    revisions = [(str(n), f"r{n}") for n in range(1, top + 1)]
    numbers = known[chosen]
    return html.Form([
        select("period", t("統計期", "Period"),
               [(p, f"{p} (r{n[0]}–r{n[-1]})") for p, n in known.items()], chosen),
        " ", select("old", t("舊版次", "Older revision"), revisions,
                    str(old or numbers[-2])),
        " ", select("new", t("新版次", "Newer revision"), revisions,
                    str(new or numbers[-1])),
        " ", html.Button(t("比較", "Compare"), type="submit", id=f"{FORM_ID}-submit"),
    ], method="get", action="/releases", id=FORM_ID)


def comparison_tables(comparison: dict[str, Any], lang: str) -> Any:
    """The comparison as headline, then per table its summary, areas and largest changes."""
    blocks: list[Any] = [html.P(headline(comparison, lang), className="lead")]
    for entry in comparison["tables"]:
        table = entry["table"]
        blocks.append(html.H3(f"{table_title(table, lang)} ({table})"))
        blocks.append(html.P(table_summary(entry, lang)))
        if entry["areas"]:
            blocks.append(html.Table([
                html.Caption(t("變動最多的區域", "Areas most changed")),
                html.Thead(html.Tr([html.Th(t("層級", "Level"), scope="col"),
                                    html.Th(t("區域", "Area"), scope="col"),
                                    html.Th(t("變動細格", "Cells changed"), scope="col")])),
                html.Tbody([html.Tr([html.Td(level_label(a["area_level"], lang)),
                                     html.Th(f"{a['area_code']} {a['area_name'] or ''}",
                                             scope="row"),
                                     html.Td(f"{a['changed']:,}", className="num")])
                            for a in entry["areas"]]),
            ]))
        if entry["largest"]:
            blocks.append(html.Table([
                html.Caption(t("最大變動", "Largest changes")),
                html.Thead(html.Tr([html.Th(t(h_zh, h_en), scope="col") for h_zh, h_en in (
                    ("區域", "Area"), ("項目", "Measure"), ("分類", "Keys"),
                    ("舊值", "Old"), ("新值", "New"), ("變動", "Change"))])),
                html.Tbody([html.Tr([
                    html.Th(f"{c['area_code']} {c['area_name'] or ''}", scope="row"),
                    html.Td(measure_label(table, c["measure"], lang)),
                    html.Td(keys_label(c["keys"], lang)),
                    html.Td(number(c["old"]), className="num"),
                    html.Td(number(c["new"]), className="num"),
                    html.Td(signed(c["change"]), className="num"),
                ], title=change_line(table, c, lang)) for c in entry["largest"]]),
            ]))
    return html.Div(blocks, id=f"{FORM_ID}-result")


def comparison_section(releases: Path, period: str | None, old: str | None, new: str | None,
                       lang: str) -> list[Any]:
    """The whole section: heading, form, and the comparison or what is wrong with the ask."""
    asked = choice(releases, period, old, new)
    chosen = asked if isinstance(asked, tuple) else None
    parts: list[Any] = [html.H2(t("比較兩個版次", "Compare two revisions")),
                        form(releases, chosen[0] if chosen else period,
                             chosen[1] if chosen else None, chosen[2] if chosen else None)]
    if isinstance(asked, str):
        parts.append(html.P(asked, role="alert", className="error"))
    elif chosen is not None:
        try:
            parts.append(comparison_tables(compare_revisions(releases, *chosen), lang))
        except ReleaseError as error:
            parts.append(html.P(str(error), role="alert", className="error"))
    return parts


__all__ = ["choice", "comparison_section", "comparison_tables", "revisions_by_period"]
