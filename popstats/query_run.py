"""``popstats query``: a query document on the current revision of each of its periods
(provider staff, under the embargo rules of ``popstats export``) → a file in any format.

Imported only when the command runs (polars, the exports)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click

EXIT_INVALID_INPUT = 2


def _document(spec_file: Path) -> object:
    try:
        return json.loads(spec_file.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        click.echo(f"{spec_file}: not a JSON document (UTF-8): {error}", err=True)
        sys.exit(EXIT_INVALID_INPUT)


def run_query_command(spec_file: Path, fmt: str, encoding: str, policy: str,
                      releases_dir: str | None, embargoed: bool, max_cells: int, out: Path, *,
                      now: datetime, both: Callable[[datetime], str]) -> None:
    """The command's work; exits 2 on an invalid document, 1 on any other refusal, and
    leaves nothing written when it refuses."""
    from exports import UnknownFormat
    from exports.query import QueryExportError, query_meta, write_query, write_query_metadata
    from exports.text import Unencodable, UnknownEncoding
    from stats.locations import resolve_locations
    from stats.publication import Embargo, embargo_of
    from stats.query import QueryError, parse_query
    from exports.marks import MARKED_FORMATS
    from stats.query_marks import marks_for_query
    from stats.query_plan import TooLarge, area_count, check_size
    from stats.query_source import run_on_releases
    from stats.release import MANIFEST
    from stats.store import followed

    try:
        query = parse_query(_document(spec_file))
    except QueryError as error:
        click.echo(f"{spec_file}: invalid query:", err=True)
        for problem in error.problems:
            click.echo(f"  - {problem}", err=True)
        sys.exit(EXIT_INVALID_INPUT)
    releases = resolve_locations(releases=releases_dir).releases
    folders = {p: followed(releases / p) for p in query.periods}  # a bucket's pointer
    if missing := [p for p, f in folders.items() if not (f / MANIFEST).is_file()]:
        raise click.ClickException(f"no release of {', '.join(missing)} in {releases}: "
                                   "nothing was written")
    embargoes = {p: e for p, f in folders.items() if (e := embargo_of(f, now)) is not None}
    scheduled = {p: e for p, e in embargoes.items() if e.until is not None}
    if scheduled and not embargoed:
        listed = "; ".join(f"{p} public from {both(e.until)}" for p, e in scheduled.items()
                           if e.until is not None)
        raise click.ClickException(f"scheduled, not yet public: {listed}. Nothing was "
                                   "written. Add --embargoed to make a file marked "
                                   "「未公布，禁止外流」.")
    marking = None
    if embargoes:  # the file is embargoed until every period in it is public
        drafts = [p for p, e in embargoes.items() if e.until is None]
        until = None if drafts else max(e.until for e in scheduled.values() if e.until)
        marking = Embargo(until)
        if drafts:
            click.echo(f"Warning: {', '.join(drafts)} not published (draft): the file is "
                       f"marked 「{marking.zh}」; do not give it to an agency before "
                       "publication.", err=True)
    try:
        check_size(query, area_count(folders[query.periods[-1]], query), max_cells)
    except TooLarge as error:
        raise click.ClickException(f"{error}. Nothing was written.") from error
    try:
        result = run_on_releases(query, folders)
        marks = (marks_for_query(query, folders, now, current=result)  # r / p cells
                 if fmt in MARKED_FORMATS else None)
        meta = query_meta(result, embargo=(marking.zh, marking.en) if marking else None,
                          now=now, marks=marks)
        report = write_query(result, fmt, out, encoding=encoding, policy=policy, meta=meta)
        if fmt in ("csv", "sdmx-csv"):  # titles, query, revisions, any embargo marking
            write_query_metadata(result, meta, out)
    except QueryError as error:
        click.echo("\n".join(error.problems), err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except Unencodable as error:
        click.echo(error.report(), err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except (UnknownFormat, UnknownEncoding, QueryExportError) as error:
        raise click.ClickException(str(error)) from error
    for item in report.replaced:
        click.echo(f"replaced: {item}", err=True)
    revisions = ", ".join(f"{p} r{r}" for p, r in result.revisions.items())
    click.echo(f"wrote {out} ({fmt}, {encoding}, {result.frame.height:,} rows × "
               f"{result.frame.width} columns; {revisions})"
               + (f"; marked 「{marking.zh}」" if marking else ""))
