"""The bulletins kept beside a period's publications: the HTML built when a revision is
published, the PDF printed from it on first request; served by the dashboards once public.

A revision folder never changes after its build, so the bulletin (which is made at
publication, and compares with the periods public then) is kept with the period's
publication log::

    RELEASES/.revisions/P/bulletins/r0002/bulletin-zh-TW.pdf   (and .html, and -en.*)

A bulletin missing there (a revision published before bulletins existed, or by the demo) is
made on first request and kept if the folder is writable. Releases in a bucket keep them at
the same keys (``s3://bucket/prefix/.revisions/P/bulletins/…``), each put in one PUT.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from stats.release import REVISIONS, ReleaseError, as_umask_allows, read_manifest
from stats.store import is_remote

BULLETINS = "bulletins"
LANGUAGES = ("zh-TW", "en")
FORMATS = ("pdf", "html")


def bulletin_path(releases: Path, period: str, revision: int, lang: str, fmt: str) -> Path:
    """Where the bulletin of one revision in one language and format is kept."""
    if lang not in LANGUAGES or fmt not in FORMATS:
        raise ReleaseError(f"no bulletin in {lang!r}/{fmt!r}: languages {LANGUAGES}, "
                           f"formats {FORMATS}")
    return (releases / REVISIONS / period / BULLETINS / f"r{revision:04d}"
            / f"bulletin-{lang}.{fmt}")


def render_html_bulletin(revision_dir: Path, lang: str, now: datetime) -> bytes:
    """The HTML bulletin of a public revision (comparisons: what is public at ``now``)."""
    from exports.bulletin_html import render_html
    from stats.bulletin import bulletin_figures

    return render_html(bulletin_figures(revision_dir, now), lang).encode("utf-8")


def keep(path: Path, data: bytes) -> None:
    """Write a bulletin file whole (temporary file + rename), with the umask's modes; in a
    bucket one PUT, which is whole by itself (stats.store)."""
    if is_remote(path):
        path.write_bytes(data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    as_umask_allows(Path(tmp))
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    Path(tmp).replace(path)


def _kept_or_made(path: Path, make: Callable[[], bytes]) -> bytes:
    """The kept file, else ``make()`` kept for next time (a read-only releases folder, as a
    dashboards service may have, only means it is made again next time)."""
    if path.is_file():
        return path.read_bytes()
    data = make()
    with contextlib.suppress(OSError):
        keep(path, data)
    return data


def bulletin_bytes(releases: Path, revision_dir: Path, lang: str, fmt: str,
                   now: datetime) -> bytes:
    """The bulletin of a public revision: as kept at publication, or made now. The PDF is
    always the kept HTML printed, so both say the same whenever the PDF is made.

    Raises
    ------
    exports.bulletin_pdf.PdfError
        For a PDF when Chromium is missing or fails.
    """
    from exports.bulletin_pdf import html_to_pdf

    manifest = read_manifest(revision_dir)
    period, revision = manifest["period"], int(manifest["revision"])
    html_path = bulletin_path(releases, period, revision, lang, "html")
    html = _kept_or_made(html_path, lambda: render_html_bulletin(revision_dir, lang, now))
    if fmt == "html":
        return html

    def printed() -> bytes:
        with tempfile.TemporaryDirectory(prefix="popstats-bulletin-") as work:
            out = Path(work) / "bulletin.pdf"
            html_to_pdf(html.decode("utf-8"), out)
            return out.read_bytes()

    return _kept_or_made(bulletin_path(releases, period, revision, lang, "pdf"), printed)


def build_bulletins(releases: Path, period: str, revision_dir: Path,
                    moment: datetime) -> list[Path]:
    """Make and keep the HTML bulletins (both languages) of a just-published revision,
    comparing with what is public at ``moment``, its publication time. The PDFs are printed
    from them on first request (Chromium takes seconds a page; publishing should not)."""
    revision = int(read_manifest(revision_dir)["revision"])
    written = []
    for lang in LANGUAGES:
        path = bulletin_path(releases, period, revision, lang, "html")
        keep(path, render_html_bulletin(revision_dir, lang, moment))
        written.append(path)
    return written
