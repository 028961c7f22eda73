"""Audit details of bounded size, whatever a caller (or a crafted request) hands over.

A dashboard preview may name thousands of areas and a login form any text as user name;
written verbatim, one audit row could hold hundreds of kilobytes. ``bounded`` keeps short
values as they are and replaces a long list or text by a summary that still identifies
it: the count, the first few entries and the SHA-256 of the whole (so an investigator
holding the full list can prove it is the one that was logged).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_LIST = 20  # a list longer than this is summarised
KEEP = 5  # entries of a summarised list kept as they are
MAX_TEXT = 500  # characters of one text kept as is


def _digest(value: Any) -> str:
    encoded = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def bounded(value: Any) -> Any:
    """``value`` with every list longer than ``MAX_LIST`` and every text longer than
    ``MAX_TEXT`` summarised (recursively through dicts and lists)."""
    if isinstance(value, dict):
        return {str(k)[:MAX_TEXT]: bounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if len(value) <= MAX_LIST:
            return [bounded(v) for v in value]
        return {"count": len(value), "first": [bounded(v) for v in value[:KEEP]],
                "sha256": _digest(list(value))}
    if isinstance(value, str) and len(value) > MAX_TEXT:
        return {"length": len(value), "start": value[:100], "sha256": _digest(value)}
    return value
