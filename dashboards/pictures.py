"""A dashboard figure as a picture file (PNG or SVG), drawn by plotly.js itself in Chromium
through kaleido 1.x — the same figure JSON the page hands to ``dcc.Graph``, so the picture
is the chart the reader saw, not a redrawing.

Where the browser comes from: ``BROWSER_PATH`` when set (kaleido's own variable), else
Debian's ``/usr/bin/chromium`` when present, else choreographer's lookup. Chromium runs
without its sandbox (choreographer's default: the server runs as root in a container, where
the setuid sandbox is unavailable), headless, with MathJax off and plotly.js loaded from the
installed plotly package: nothing is fetched from the network. CJK text needs a CJK font on
the machine (Debian's fonts-noto-cjk, installed by ``scripts/setup.sh``).

One Chromium is started per picture and closed after it (about 4 s on the shared 2-core
machine, measured): pictures are asked for rarely, and a resident browser per server worker
would hold some hundred MB for nothing. A lock keeps one render per process at a time.
"""

from __future__ import annotations

import copy
import os
import threading
from pathlib import Path
from typing import Any

SYSTEM_CHROMIUM = Path("/usr/bin/chromium")
FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
WIDTH, HEIGHT = 1100, 650  # a slide-sized picture; a page's own height (the map's) wins
SCALE = 2  # PNG pixels per CSS pixel: sharp when printed or shown on a HiDPI screen
TIMEOUT = 60  # seconds for one render
_LOCK = threading.Lock()


class PictureError(RuntimeError):
    """The picture could not be drawn (no browser, the browser failed or timed out)."""


def browser_path() -> str | None:
    """The Chromium kaleido should start (None: let choreographer look for one)."""
    chosen = os.environ.get("BROWSER_PATH")
    if chosen:
        return chosen
    return str(SYSTEM_CHROMIUM) if SYSTEM_CHROMIUM.exists() else None


def titled(figure: dict[str, Any], title: str, note: str) -> dict[str, Any]:
    """A copy of ``figure`` that stands on its own as a file: ``title`` above the plot and
    ``note`` (source, revisions, when drawn) as its subtitle — on the page both are text
    beside the chart. (Under the plot the note would collide with the legend, which plotly
    places below the axis title by its own margin rules.)"""
    drawn = copy.deepcopy(figure)
    layout = drawn.setdefault("layout", {})
    margin = dict(layout.get("margin") or {})
    margin["t"] = max(int(margin.get("t", 30)), 90)
    layout["margin"] = margin
    layout["title"] = {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98,
                       "yanchor": "top", "font": {"size": 18},
                       "subtitle": {"text": note, "font": {"size": 11, "color": "#555555"}}}
    layout["showlegend"] = True  # plotly hides a lone trace's legend: a file names its area
    layout.setdefault("font", {})["family"] = (
        '"Noto Sans CJK TC", "Noto Sans TC", "Noto Sans CJK", sans-serif')
    return drawn


def render(figure: dict[str, Any], fmt: str) -> bytes:
    """The figure as PNG or SVG bytes.

    Raises
    ------
    ValueError
        A format other than png or svg.
    PictureError
        No browser, or the browser failed or timed out.
    """
    if fmt not in FORMATS:
        raise ValueError(f"pictures are png or svg, not {fmt!r}")
    import kaleido  # imported on use: the server starts without it until a picture is asked

    layout = figure.get("layout", {})
    opts = {"format": fmt, "width": layout.get("width") or WIDTH,
            "height": layout.get("height") or HEIGHT, "scale": SCALE if fmt == "png" else 1}
    kopts: dict[str, Any] = {"mathjax": False, "timeout": TIMEOUT}
    if (path := browser_path()) is not None:
        kopts["path"] = path
    with _LOCK:
        try:
            data = kaleido.calc_fig_sync(figure, opts=opts, kopts=kopts)
        except Exception as error:  # noqa: BLE001 - kaleido/choreographer raise many kinds
            raise PictureError(f"the picture could not be drawn: {type(error).__name__}: "
                               f"{error}") from error
    if not isinstance(data, bytes | bytearray) or not data:
        raise PictureError("the browser returned no picture")
    return bytes(data)
