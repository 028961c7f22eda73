"""``popstats bulletin``: the embargo rule, the output format by the file's suffix, and the
writing; the figures are ``stats.bulletin``'s, the page ``exports.bulletin_html``'s."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

FORMATS = (".html", ".pdf")


class BulletinRefused(Exception):
    """Nothing was written, and why."""


def write_bulletin(release_dir: Path, lang: str, out: Path, *, now: datetime, embargoed: bool,
                   both: Callable[[datetime], str]) -> str:
    """Write the bulletin of ``release_dir`` to ``out`` and say what was written.

    A bulletin is for the public: of a revision that is not public yet (a draft, or
    scheduled) it is refused unless ``embargoed``, and then marked 「未公布，禁止外流」.

    Raises
    ------
    BulletinRefused
        An unknown suffix, no release, an embargo, or a PDF Chromium could not print.
    """
    from exports.bulletin_html import render_html
    from exports.bulletin_pdf import PdfError, html_to_pdf
    from stats.bulletin import bulletin_figures
    from stats.publication import embargo_of
    from stats.release import MANIFEST, ReleaseError

    suffix = out.suffix.lower()
    problems = []
    if suffix not in FORMATS:
        problems.append(f"--out {out}: the file name must end in .html or .pdf")
    if not (release_dir / MANIFEST).is_file():
        problems.append(f"--release {release_dir}: holds no release (no {MANIFEST})")
    if problems:
        raise BulletinRefused("; ".join(problems))
    embargo = embargo_of(release_dir, now)
    if embargo is not None and not embargoed:
        state = (f"scheduled, public from {both(embargo.until)}" if embargo.until
                 else "a draft (not published)")
        raise BulletinRefused(f"{release_dir} is {state}: no bulletin was written. Add "
                              f"--embargoed for a copy marked 「{embargo.zh}」.")
    try:
        figures = bulletin_figures(release_dir, now, unpublished_ok=embargo is not None)
    except ReleaseError as exc:
        raise BulletinRefused(str(exc)) from exc
    html = render_html(figures, lang, embargo=(embargo.zh, embargo.en) if embargo else None)
    if suffix == ".html":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(html, encoding="utf-8")
        tmp.replace(out)
    else:
        try:
            html_to_pdf(html, out)
        except PdfError as exc:
            raise BulletinRefused(str(exc)) from exc
    marked = f"; marked 「{embargo.zh}」" if embargo else ""
    return (f"wrote {out} (bulletin of {figures['period']} revision {figures['revision']}, "
            f"{lang}, {suffix[1:]}){marked}")
