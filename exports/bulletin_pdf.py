"""The bulletin's PDF: its HTML page printed by headless Chromium, so that the PDF and the
HTML are one layout (A4, the CJK fonts of fonts-noto-cjk, charts as vectors and text as
text). Chromium and the fonts are installed by ``scripts/setup.sh``."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
TIMEOUT = 120  # seconds: a bulletin prints in about two on an idle machine


class PdfError(RuntimeError):
    """Chromium is missing or did not print the page."""


def chromium() -> str:
    """The browser to print with: $POPSTATS_CHROMIUM, else the first one on PATH."""
    named = os.environ.get("POPSTATS_CHROMIUM")
    found = named or next((p for p in map(shutil.which, CANDIDATES) if p), None)
    if not found:
        raise PdfError("printing a PDF needs Chromium (scripts/setup.sh installs Debian's "
                       "chromium and fonts-noto-cjk); write FILE.html instead, or set "
                       "POPSTATS_CHROMIUM")
    return found


def html_to_pdf(html: str, out: Path) -> None:
    """Print ``html`` to the PDF file ``out`` (written whole or not at all)."""
    browser = chromium()
    with tempfile.TemporaryDirectory(prefix="popstats-bulletin-") as work:
        page, pdf = Path(work) / "bulletin.html", Path(work) / "bulletin.pdf"
        page.write_text(html, encoding="utf-8")
        # --no-sandbox: the sandbox needs user namespaces, absent in containers and for
        # root; the page is our own, with no script and nothing fetched.
        command = [browser, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--no-pdf-header-footer",
                   f"--user-data-dir={Path(work) / 'profile'}", f"--print-to-pdf={pdf}",
                   page.as_uri()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise PdfError(f"Chromium did not print the bulletin within {TIMEOUT} s") from exc
        if not pdf.is_file() or not pdf.read_bytes().startswith(b"%PDF"):
            tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            raise PdfError(f"Chromium printed no PDF (exit {done.returncode}): "
                           + " / ".join(tail))
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        shutil.copyfile(pdf, tmp)
        tmp.replace(out)
