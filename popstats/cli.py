"""The ``popstats`` command: a thin shell that parses arguments, calls one function each,
and turns domain errors into messages and exit codes."""

from __future__ import annotations

import getpass
import json
import re
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from popstats.encoding_option import ENCODING
from popstats.store_option import ReleasesPlace
from stats.periods import Month, Period, PeriodError
from stats.problems import ValidationError

if TYPE_CHECKING:
    from stats.codes import CodeTable

# Only light modules are imported above: ``popstats --help`` and every command that does
# not need polars, SQLAlchemy or xarray start in a fraction of a second; each command
# imports what it uses (tests/test_cli_startup.py checks which modules --help loads).

EXIT_INVALID_INPUT = 2


def _progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


def _now() -> datetime:
    return datetime.now(UTC)


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except PeriodError as exc:
        raise click.BadParameter(str(exc)) from exc


def _codes(path: Path | None) -> CodeTable:
    from stats.codes import CodeTableError, code_table

    try:
        return code_table(path)
    except (CodeTableError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


class PopstatsGroup(click.Group):
    """The ``popstats`` group: its own commands, plus the linking-governance commands
    (popstats/access_cli), which need SQLAlchemy and the exports and are imported only when
    one of them runs. ``--help`` lists them from their source (popstats.command_index)."""

    _access_loaded = False

    def _load_access(self) -> None:
        if not self._access_loaded:
            from popstats.access_cli import register

            self._access_loaded = True
            register(self)

    def _access_help(self) -> dict[str, str]:
        from popstats.command_index import access_command_help

        found = None if self._access_loaded else access_command_help()
        if found is None:  # the source is not in the shape the index reads: import them
            self._load_access()
            return {}
        return found

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._access_help()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            self._load_access()
            found = super().get_command(ctx, cmd_name)
        return found

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, without importing the access commands for their help lines."""
        stand_ins = {name: click.Command(name, help=text)
                     for name, text in self._access_help().items()}
        listed = {name: self.commands.get(name) or stand_ins[name]
                  for name in self.list_commands(ctx)}
        shown = [(name, cmd) for name, cmd in listed.items() if not cmd.hidden]
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in shown])


@click.group(cls=PopstatsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="popstats")
def main() -> None:
    """Population statistics from Taiwan's household register: sample, build, publish."""


@main.command()
@click.option("--out", "out", required=True, type=click.Path(path_type=Path),
              help="Folder to write the extract into.")
@click.option("--scale", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="1.0 = national size (≈23.4 M residents).")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("--start", default="2025-01", show_default=True, help="First month with events (YYYY-MM).")
@click.option("--months", default=3, show_default=True, type=click.IntRange(min=1))
@click.option("--codes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Official code table (villages_history.csv or villages.csv layout).")
@click.option("--corrections", default=0, show_default=True, type=click.IntRange(min=0),
              help="Register corrections to inject (persons added/removed with no event).")
@click.option("--format", "file_format", type=click.Choice(["parquet", "csv"]), default="parquet",
              show_default=True)
@click.option("--encoding", type=click.Choice(["utf-8", "utf-8-sig", "cp950", "euc-tw"]),
              default="utf-8", show_default=True, help="CSV encoding.")
@click.option("--dates", "date_style", type=click.Choice(["iso", "roc", "mixed"]), default="iso",
              show_default=True, help="CSV date style.")
@click.option("--v1", "v1", is_flag=True,
              help="The v1 extract (CONTRACT §1 columns only), as before v2 existed.")
@click.option("--v2", "v2", is_flag=True,
              help="The v2 extract with CONTRACT §8's columns (the default; accepted for scripts).")
def sample(out: Path, scale: float, seed: int, start: str, months: int, codes: Path | None,
           corrections: int, file_format: str, encoding: str, date_style: str, v1: bool,
           v2: bool) -> None:
    """Write a synthetic register extract (same arguments, identical files): v2 by default
    (tribe; mother's birth date and original nationality; spouses' original nationality)."""
    from sample_data.generator import write_sample

    if v1 and v2:
        raise click.UsageError("--v1 and --v2 exclude each other: give one (v2 is the default)")
    try:
        first = Month.parse(start)
    except PeriodError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        summary = write_sample(
            out, scale=scale, seed=seed, start=first, months=months, codes=_codes(codes),
            corrections=corrections, file_format=file_format, encoding=encoding,
            date_style=date_style, progress=_progress, version=1 if v1 else 2,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(summary))


@main.command()
@click.option("--input", "extract", required=True, type=click.Path(path_type=Path),
              help="Folder holding residents_YYYYMM and events_YYYYMM files.")
@click.option("--period", required=True,
              help="2025-03, 2025-Q1 or 2025; or a range of one kind, 2024-01..2025-12.")
@click.option("--out", "releases", required=True, type=ReleasesPlace(file_okay=True),
              help="Releases folder.")
@click.option("--codes", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Official code table; default: the built-in official table (MOI, 2021-01…2026-06).")
@click.option("--encoding", default="utf-8", show_default=True,
              type=ENCODING, help="Encoding of CSV inputs.")
@click.option("--note", default="", help="Revision note (why this build).")
@click.option("--problems", "problems_file", type=click.Path(path_type=Path),
              help="Also write every problem found as CSV to this file.")
def build(extract: Path, period: str, releases: Path, codes: Path | None, encoding: str,
          note: str, problems_file: Path | None) -> None:
    """Validate an extract and write the release of a period (a new revision if rebuilt)."""
    from stats.files import hashing_inputs

    target = None if ".." in period else _period(period)
    digests = {}
    if target is not None and extract.is_dir():
        # the inputs' checksums first, on a thread, while the libraries that read them import
        digests = hashing_inputs(extract, target)
    from stats.extract import Shared
    from stats.release import ReleaseError, build_release

    if target is None:  # a range: each period its own release, snapshots read once
        from popstats.build_range import build_periods
        from stats.backfill import parse_periods

        try:
            periods = parse_periods(period)
        except PeriodError as exc:
            raise click.BadParameter(str(exc), param_hint="--period") from exc
        try:
            build_periods(extract, periods, releases, _codes(codes), encoding, note,
                          _progress, EXIT_INVALID_INPUT)
        except ReleaseError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    try:
        built = build_release(extract, target, releases, _codes(codes), encoding=encoding,
                              note=note, progress=_progress, shared=Shared(digests=digests))
    except ValidationError as exc:
        if problems_file is not None:  # written first: the listing's last line points to it
            _write_problems(problems_file, exc)
        shown_in = str(problems_file) if problems_file is not None else None
        click.echo(exc.report(limit=500, problems_file=shown_in), err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from exc
    tables = ", ".join(f"{t['table']} ({t['rows']:,})" for t in built.manifest["tables"])
    click.echo(f"{target} revision {built.revision}: {tables}")


def _write_problems(path: Path, error: ValidationError) -> None:
    """Every problem as CSV (UTF-8 with BOM for Excel) by the one formula-safe CSV writer:
    a problem's value is the extract's own text, which may start with ``=``."""
    import polars as pl

    from exports.delimited import write_safe_csv

    frame = pl.DataFrame(
        [[p.file, p.row, p.column, p.value, p.rule] for p in error.problems],
        schema={"file": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String,
                "rule": pl.String},
        orient="row",
    )
    with path.open("wb") as fh:
        write_safe_csv(frame, fh, encoding="utf-8-sig")


def _time_option(name: str, text: str, now: datetime) -> datetime:
    """A time typed on the command line: Taipei time unless it says otherwise, ISO or ROC
    (``2026-12-10 16:00``, ``115/12/10 16:00``, ``1151210 1600``), or ``+3d``/``+2h``/``+30m``
    from now."""
    from stats.taipei import TimeInputError, parse_moment

    try:
        return parse_moment(text, now)
    except TimeInputError as exc:
        raise click.BadParameter(str(exc), param_hint=name) from exc


def _both(moment: datetime | str | None) -> str:
    """A moment for a message: ``115年12月10日 16:00 臺北時間 (2026-12-10 16:00 +08:00)``."""
    from stats.taipei import format_time

    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{format_time(moment, 'zh')} ({format_time(moment, 'en')})"


@main.command("publish")
@click.option("--releases", required=True, type=ReleasesPlace(exists=True))
@click.option("--period", required=True)
@click.option("--at", "at", default=None, help="Publication time; default now. A future time is "
              "an embargo. Taipei time unless an offset is given: 2026-12-10 16:00, "
              "115/12/10 16:00, 1151210 1600, 2026-12-10T16:00+08:00, or +3d / +2h from now.")
@click.option("--by", default=None, help="Who publishes (default: the login name).")
@click.option("--note", default="", help="Public note (e.g. what a revision corrects).")
@click.option("--reschedule", is_flag=True,
              help="Move the time of a scheduled (not yet public) publication.")
@click.option("--provisional", is_flag=True,
              help="The figures are provisional: every cell is marked p (初步數) in files "
              "until a final revision of the period is published.")
def publish_command(releases: Path, period: str, at: str | None, by: str | None, note: str,
                    reschedule: bool, provisional: bool) -> None:
    """Publish the current revision of a built period, now or at a set time."""
    from stats.publication import publish
    from stats.release import ReleaseError

    target = str(_period(period))
    now = _now()
    when = _time_option("--at", at, now) if at else None
    if when is not None and when < now - timedelta(minutes=1):
        raise click.BadParameter(f"{at!r} is {_both(when)}, in the past; omit --at to "
                                 "publish now", param_hint="--at")
    try:
        manifest = publish(releases, target, by=by or getpass.getuser(), now=now, at=when,
                           note=note, reschedule=reschedule, provisional=provisional)
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from exc
    pub = manifest["publication"]
    state = "published" if manifest["status"] == "published" else "scheduled: public from"
    click.echo(f"{target} revision {manifest['revision']} {state} {_both(pub['at'])} "
               f"by {pub['by']}" + (" (provisional: cells marked p)" if provisional else ""))
    _bulletins(releases, target, int(manifest["revision"]), when or now)


@main.command("releases")
@click.option("--releases", required=True, type=ReleasesPlace(exists=True))
@click.option("--json", "as_json", is_flag=True,
              help="Machine-readable output (times ISO 8601 in UTC with their offset).")
def releases_command(releases: Path, as_json: bool) -> None:
    """List periods, revisions, states and times."""
    from stats.publication import list_releases
    from stats.taipei import format_time

    rows = list_releases(releases, _now())
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return

    def shown(moment: str | None) -> str:
        return format_time(datetime.fromisoformat(moment), "zh", label=False) if moment else "-"

    # ROC dates in fixed columns: CJK characters are two columns wide in a terminal
    click.echo("times: 臺北時間 (Taipei time)")
    click.echo(f"{'period':<9} {'rev':>3}  {'state':<10}  {'built':<18}  {'public from':<18}  "
               f"{'by':<12} note")
    for r in rows:
        click.echo(f"{r['period']:<9} {r['revision']:>3}  {r['state']:<10}  "
                   f"{_pad(shown(r['created_at']), 18)}  {_pad(shown(r['published_at']), 18)}  "
                   f"{r['published_by'] or '-':<12} {r['note']}")


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal, counting CJK characters as two columns."""
    import unicodedata

    used = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - used)


@main.command("calendar")
@click.option("--releases", required=True, type=ReleasesPlace(file_okay=True))
@click.option("--period", default=None, help="Period to plan (omit to show the calendar).")
@click.option("--date", "planned", default=None,
              help="Planned publication date: 2026-12-10, or ROC 115/12/10 or 1151210.")
@click.option("--note", default="")
def calendar_command(releases: Path, period: str | None, planned: str | None, note: str) -> None:
    """Show the release calendar (planned dates and scheduled publications), or plan a
    period's publication date."""
    from stats.publication import calendar, plan_release
    from stats.taipei import TimeInputError, format_date, format_time, parse_day

    if period is not None:
        if planned is None:
            raise click.UsageError("--period needs --date")
        try:
            day = parse_day(planned)
        except TimeInputError as exc:
            raise click.BadParameter(str(exc), param_hint="--date") from exc
        plan_release(releases, str(_period(period)), day, note)
    entries = calendar(releases, _now()) if releases.is_dir() else []
    if not entries:
        click.echo("尚無排定的發布 (nothing planned or scheduled)")
    for e in entries:
        if e["at"]:
            when = format_time(datetime.fromisoformat(e["at"]), "zh")
            what = f"scheduled: revision {e['revision']} public from {when}"
        else:
            what = "planned"
        day = format_date(date.fromisoformat(e["planned"]), "zh")
        label = _pad(Period.parse(e["period"]).roc_label, 12)
        click.echo(f"{_pad(day, 14)}  {e['period']:<9} {label}"
                   f"{what}{'  ' + e['note'] if e['note'] else ''}")


@main.command("report")
@click.option("--releases", required=True, type=ReleasesPlace(exists=True))
@click.option("--period", required=True)
@click.option("--json", "as_json", is_flag=True)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True,
              help="Labels in zh-TW (as the catalogue's) or English.")
@click.option("--compare", "compare", default=None, metavar="rN",
              help="Instead: compare the period's current (or --revision) revision with "
              "revision N (r1 or 1), table by table and area by area.")
@click.option("--revision", "revision", default=None, metavar="rN",
              help="With --compare: the newer revision (default: the current one).")
def report_command(releases: Path, period: str, as_json: bool, lang: str, compare: str | None,
                   revision: str | None) -> None:
    """The release report to read before publishing: totals, changes, residuals, outliers;
    or with --compare, what changed between two revisions of the period."""
    from stats.release import ReleaseError
    from stats.report import release_report

    if revision is not None and compare is None:
        raise click.UsageError("--revision needs --compare (the revision to compare it with)")
    if compare is not None:
        _report_comparison(releases, str(_period(period)), compare, revision, as_json, lang)
        return
    try:
        report = release_report(releases, str(_period(period)))
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(_format_report(report, lang))


def _revision_number(text: str, name: str) -> int:
    if not re.fullmatch(r"[rR]?\d+", text.strip()):
        raise click.BadParameter(f"{text!r} is not a revision (r1, r2 … or 1, 2 …)",
                                 param_hint=name)
    return int(text.strip().lstrip("rR"))


def _report_comparison(releases: Path, period: str, compare: str, revision: str | None,
                       as_json: bool, lang: str) -> None:
    from stats.comparison_text import format_comparison
    from stats.release import ReleaseError
    from stats.revision_compare import compare_revisions

    old = _revision_number(compare, "--compare")
    new = _revision_number(revision, "--revision") if revision is not None else None
    try:
        comparison = compare_revisions(releases, period, old, new)
    except ReleaseError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(comparison, ensure_ascii=False, indent=2, default=str))
        return
    click.echo(format_comparison(comparison, lang), nl=False)


def _format_report(report: dict, lang: str = "zh") -> str:
    from stats.report import format_report

    return format_report(report, lang)


@main.command("catalogue")
@click.option("--table", default=None, help="One table (default: every table).")
@click.option("--releases", default=None, type=ReleasesPlace(),
              help="Also say what of it is published and planned (a releases folder).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def catalogue_command(table: str | None, releases: Path | None, lang: str, as_json: bool) -> None:
    """The table catalogue: every column defined, units, code lists, levels, source, the
    regulation point, publications and the API call (what the Tables page shows)."""
    from stats.catalogue import TABLES
    from stats.publication import calendar, list_releases
    from stats.table_info import table_info

    if table is not None and table not in TABLES:
        raise click.BadParameter(f"unknown table {table!r}; one of {', '.join(TABLES)}",
                                 param_hint="--table")
    now = _now()
    shown = [r for r in list_releases(releases, now) if r["state"] in ("published", "superseded")
             ] if releases is not None and releases.is_dir() else []
    planned = calendar(releases, now) if releases is not None and releases.is_dir() else []
    infos = [table_info(name, shown, planned, lang) for name in ([table] if table else TABLES)]
    if as_json:
        click.echo(json.dumps(infos, ensure_ascii=False, indent=2, default=str))
        return
    for info in infos:
        click.echo(f"{info['code']}  {info['table']}  {info['title']}")
        click.echo(f"  {'、'.join(info['levels']) if lang == 'zh' else ', '.join(info['levels'])}")
        for column in info["columns"]:
            unit = f" [{column['unit']}]" if column["unit"] else ""
            click.echo(f"  {column['name']:<28} {column['label']}{unit}: {column['definition']}")
        if info["latest"]:
            click.echo(f"  {'最新公布' if lang == 'zh' else 'latest'}: {info['latest']['period']} "
                       f"r{info['latest']['revision']} {_both(info['latest']['published_at'])}")
        click.echo(f"  API: {info['api']['table']}")
        click.echo("")


@main.command("export")
@click.option("--release", "release_dir", required=True,
              type=ReleasesPlace(exists=True, resolve=True),
              help="A release folder: RELEASES/P (the current revision) or a revision folder.")
@click.option("--table", required=True, help="Table name, e.g. population_by_age.")
@click.option("--format", "fmt", required=True, help="csv, xlsx, ods, sav, dta, parquet, netcdf, "
              "px, jsonstat, sdmx-csv or moi.")
@click.option("--encoding", default="utf-8-sig", show_default=True, type=ENCODING,
              help="Text formats' encoding (BIG-5E has no implementation: cp950 or big5hkscs).")
@click.option("--policy", type=click.Choice(["strict", "ncr", "replace"]), default="strict",
              show_default=True, help="What to do with characters the encoding cannot hold.")
@click.option("--made-chars", "made_chars", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV (codepoint,character) extending the map of MOI's made characters.")
@click.option("--keep-made-chars", is_flag=True,
              help="Keep MOI's private-use made characters as they are (as MOI's own files do).")
@click.option("--embargoed", is_flag=True,
              help="Allow a file from a scheduled (not yet public) revision; its title and "
              "metadata then say 未公布，禁止外流至 its publication time. Drafts are written "
              "with a warning and the same marking.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def export_command(release_dir: Path, table: str, fmt: str, encoding: str, policy: str,
                   made_chars: Path | None, keep_made_chars: bool, embargoed: bool,
                   out: Path) -> None:
    """Write one release table to a file in an agency's format and encoding.

    CSV files get a CSVW metadata sidecar (FILE-metadata.json) with titles, units and notes;
    SDMX-CSV files their data-structure definition (FILE.dsd.xml, SDMX-ML 2.1). A revision
    that is scheduled but not public yet is refused unless --embargoed is given; a draft is
    written with a warning, and marked 未公布，禁止外流 in its title and metadata.
    """
    from exports import UnknownFormat, load_for_export, write
    from exports.delimited import metadata_path, write_csv_metadata
    from exports.marks import MARKED_FORMATS, with_marks
    from exports.meta import with_embargo
    from exports.moi import load_for_moi
    from exports.sdmx import write_structure
    from exports.text import Unencodable, UnknownEncoding, load_private_use_map
    from stats.catalogue import UnknownTable
    from stats.publication import embargo_of
    from stats.release import MANIFEST, ReleaseError
    from stats.revision_marks import release_marks

    if not (release_dir / MANIFEST).exists():
        raise click.BadParameter(f"{release_dir} holds no release (no {MANIFEST})",
                                 param_hint="--release")
    now = _now()
    embargo = embargo_of(release_dir, now)
    scheduled = embargo is not None and embargo.until is not None
    # A scheduled revision is under embargo until its time: refused unless acknowledged.
    # A draft (never published, e.g. a statistician checking a build: CONTRACT §4 exports a
    # built release) is written, marked 「未公布，禁止外流」 wherever the format has room.
    if scheduled and not embargoed:
        raise click.ClickException(
            f"{release_dir} is scheduled, public from {_both(embargo.until)}: nothing was "
            f"written. Add --embargoed to make a file marked 「{embargo.zh}」.")
    if scheduled and fmt == "moi":
        raise click.ClickException("MOI's open-data layout has no title or metadata to mark a "
                                   "file 「未公布，禁止外流」: export a scheduled revision in "
                                   "another format")
    if embargo is not None and not embargoed:
        click.echo(f"Warning: {release_dir} is a draft (not published): the file is marked "
                   f"「{embargo.zh}」" + (" — except in MOI's layout, which has no room for it"
                                         if fmt == "moi" else "")
                   + "; do not give it to an agency before publication.", err=True)
    try:
        load = load_for_moi if fmt == "moi" else load_for_export
        frame, meta = load(release_dir, table)
        if fmt in MARKED_FORMATS:  # cells marked r/p where the format has room for it
            meta = with_marks(meta, release_marks(release_dir, table, now, frame))
        if embargo is not None and fmt != "moi":
            meta = with_embargo(meta, embargo.zh, embargo.en)
        made = {} if keep_made_chars else load_private_use_map(made_chars)
        report = write(frame, fmt, out, meta, encoding=encoding, policy=policy, private_use=made)
        if fmt == "csv":
            write_csv_metadata(meta, metadata_path(out), encoding=encoding)
        if fmt == "sdmx-csv":  # the data-structure definition travels beside the data
            with Path(f"{out}.dsd.xml").open("wb") as fh:
                write_structure(frame, meta, fh, private_use=made)
    except Unencodable as exc:
        click.echo(exc.report(), err=True)
        sys.exit(EXIT_INVALID_INPUT)
    except (UnknownTable, UnknownFormat, UnknownEncoding, ReleaseError) as exc:
        raise click.ClickException(str(exc.args[0] if isinstance(exc, KeyError) else exc)) from exc
    for item in report.replaced:
        click.echo(f"replaced: {item}", err=True)
    click.echo(f"wrote {out} ({fmt}, {encoding}, {frame.height:,} rows; "
               f"{len(report.mapped)} made characters mapped, {len(report.replaced)} replaced)"
               + (f"; marked 「{embargo.zh}」" if embargo is not None else ""))


def _bulletins(releases: Path, period: str, revision: int, moment: datetime) -> None:
    """The bulletin is made on publication (issue 14), comparing with what is public at the
    publication moment; the publication stands even if it cannot be made (said on stderr)."""
    from exports.bulletin_files import build_bulletins
    from stats.release import REVISIONS, ReleaseError

    folder = releases / REVISIONS / period / f"r{revision:04d}"  # a folder or a bucket prefix
    try:  # silent when made: publish's output stays what scripts read
        build_bulletins(releases, period, folder, moment)
    except (OSError, ReleaseError) as exc:
        click.echo(f"Warning: the bulletin was not made ({exc}); the dashboards make it on "
                   "first request", err=True)


@main.command("bulletin")
@click.option("--release", "release_dir", required=True,
              type=ReleasesPlace(exists=True, resolve=True),
              help="A release folder: RELEASES/P (the current revision) or a revision folder; "
              "or the same in a bucket, s3://bucket/prefix/P.")
@click.option("--lang", type=click.Choice(["zh-TW", "en"]), default="zh-TW", show_default=True)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="FILE.html (one self-contained page) or FILE.pdf (printed by Chromium).")
@click.option("--embargoed", is_flag=True,
              help="Allow a bulletin of a draft or scheduled (not yet public) revision, marked "
              "未公布，禁止外流 at its top; comparisons may then use unpublished revisions.")
def bulletin_command(release_dir: Path, lang: str, out: Path, embargoed: bool) -> None:
    """Write the period's statistical bulletin (內政統計通報): headline text, key indicators
    with their changes, the 13-period trend, the pyramid, the county table, notes."""
    from popstats.bulletin_run import BulletinRefused, write_bulletin

    try:
        written = write_bulletin(release_dir, lang, out, now=_now(), embargoed=embargoed,
                                 both=_both)
    except BulletinRefused as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(written)


@main.command("query")
@click.option("--spec", "spec_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The query document (JSON, CONTRACT §7).")
@click.option("--format", "fmt", required=True, help="csv, xlsx, ods, parquet, sav, dta (the "
              "result table); px, jsonstat, sdmx-csv, netcdf (its cells as a cube).")
@click.option("--encoding", default="utf-8-sig", show_default=True, type=ENCODING,
              help="Text formats' encoding.")
@click.option("--policy", type=click.Choice(["strict", "ncr", "replace"]), default="strict",
              show_default=True, help="What to do with characters the encoding cannot hold.")
@click.option("--releases", "releases_dir", default=None, type=click.Path(file_okay=False),
              help="Releases folder (default: $POPSTATS_RELEASES, else demo/releases).")
@click.option("--embargoed", is_flag=True,
              help="Allow periods whose current revision is scheduled (not yet public); the "
              "file is then marked 未公布，禁止外流. Drafts are written with a warning and the "
              "same marking.")
@click.option("--max-cells", default=5_000_000, show_default=True,
              type=click.IntRange(min=1), help="Refuse a larger result (split the query).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
def query_command(spec_file: Path, fmt: str, encoding: str, policy: str,
                  releases_dir: str | None, embargoed: bool, max_cells: int, out: Path) -> None:
    """Run a query document on the current revision of each period and write the result.

    An invalid document exits with status 2 and every reason. Embargo rules are those of
    export: a scheduled revision is refused unless --embargoed; a draft is written with a
    warning and marked 未公布，禁止外流."""
    from popstats.query_run import run_query_command

    run_query_command(spec_file, fmt, encoding, policy, releases_dir, embargoed, max_cells,
                      out, now=_now(), both=_both)


@main.command()
@click.option("--releases", "releases_dir", default=None, type=click.Path(file_okay=False),
              help="Releases folder to serve (default: $POPSTATS_RELEASES, else demo/releases).")
@click.option("--db", default=None, help="Access database URL (default: $POPSTATS_DB or the "
              "embedded SQLite file popstats.db).")
@click.option("--outbox", default=None,
              help="Where delivery files are written and sent from: a folder or "
              "s3://bucket/prefix (default: $POPSTATS_OUTBOX, else 'outbox' beside the releases).")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
@click.option("--boundaries", type=click.Path(exists=True),
              envvar="POPSTATS_BOUNDARIES", default=None,
              help="Folder or file of TopoJSON/GeoJSON area boundaries keyed by MOI codes for "
              "the Map page (default: a tile map of the 22 counties that needs no file).")
def serve(releases_dir: str | None, db: str | None, outbox: str | None, host: str, port: int,
          boundaries: str | None) -> None:
    """Serve the dashboards and the online query API (CONTRACT §6) for the published releases.

    Every place is made absolute here, once (the outbox: --outbox, else $POPSTATS_OUTBOX,
    else ``outbox`` beside the releases), so the files the server records and sends do not
    depend on the folder it was started in or where its code lives."""
    from dashboards.app import ServerSettings, create_app, run_server
    from stats.locations import LocationError, resolve_locations

    try:
        places = resolve_locations(releases=releases_dir, db=db, outbox=outbox,
                                   boundaries=boundaries)
    except LocationError as error:
        raise click.BadParameter(str(error)) from error
    app = create_app(ServerSettings(releases=places.releases, db_url=places.db_url,
                                    outbox=places.outbox, boundaries=places.boundaries))
    click.echo(f"Serving the dashboards at http://{host}:{port}/ (log in with a demo account) and "
               f"the API at http://{host}:{port}/api/v1/ (releases {places.releases}, "
               f"outbox {places.outbox}); Ctrl+C stops.")
    run_server(host=host, port=port, app=app)  # threaded; no Server header versions


@main.command()
@click.option("--out", "workdir", default="demo", show_default=True, type=click.Path(path_type=Path),
              help="Working folder for the demo extract and releases.")
@click.option("--scale", default=0.01, show_default=True, type=float)
@click.option("--year", default=2025, show_default=True, type=int)
@click.option("--db", default=None, help="Access database for the demo accounts (default: "
              "$POPSTATS_DB or the embedded SQLite file popstats.db).")
@click.option("--serve/--no-serve", "then_serve", default=True, show_default=True,
              help="Serve the API on 127.0.0.1:8050 afterwards.")
@click.option("--reset-accounts", is_flag=True,
              help="New demo passwords and tokens (default: keep the last run's).")
def demo(workdir: Path, scale: float, year: int, db: str | None, then_serve: bool,
         reset_accounts: bool) -> None:
    """Quick start: sample a year, build and publish every month, quarter and the year,
    create the demo accounts, and serve."""
    from access.db import make_engine, session_factory, upgrade_engine
    from access.demo_store import demo_accounts, store_path
    from popstats.demo import run_demo
    from stats.locations import absolute_path, resolve_locations

    workdir = absolute_path(workdir)  # once: the releases, their outbox and the database
    places = resolve_locations(releases=workdir / "releases", db=db)
    click.echo(run_demo(workdir, scale=scale, year=year, progress=_progress))
    engine = make_engine(places.db_url)
    upgrade_engine(engine)
    with session_factory(engine)() as session:
        store = store_path(engine.url, workdir)
        accounts = demo_accounts(session, _now(), store, reset=reset_accounts)
        session.commit()
    click.echo(f"\nDemo accounts (API: Authorization: Bearer TOKEN; kept in {store}):")
    for a in accounts:
        click.echo(f"  {a['username']:<18} password {a['password']:<18} {a['role']:<18} {a['agency']}: "
                   f"{', '.join(a['areas'])}; {len(a['tables'])} table(s)"
                   + (f"\n  {'':18} token {a['token']}" if a["token"] else ""))
    if then_serve:
        click.get_current_context().invoke(serve, releases_dir=str(places.releases),
                                           db=places.db_url, host="127.0.0.1", port=8050)


if __name__ == "__main__":  # pragma: no cover
    main()
