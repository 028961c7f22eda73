"""What the table builder offers for a file: delivery channels, text encodings, and which
formats are written in a chosen encoding (pure: no request, no database, no files).

The builder's table itself is a query document (CONTRACT §7, ``dashboards.builder``); the
stored *selections* of deliveries made before it are applied by ``access.packages``.
"""

from __future__ import annotations

import exports

CHANNELS = ("file_transfer", "media_exchange")
ENCODINGS = ("utf-8-sig", "utf-8", "cp950", "big5hkscs", "euc-tw")


def is_text_format(fmt: str) -> bool:
    """Formats written in a chosen encoding (the others are Unicode by nature)."""
    return fmt in exports.FORMATS and len(exports.FORMATS[fmt][2]) > 1


def file_encoding(fmt: str, encoding: str | None) -> str:
    """The encoding to write: the chosen one for text formats, UTF-8 for the others."""
    return (encoding or "utf-8-sig") if is_text_format(fmt) else "utf-8"
