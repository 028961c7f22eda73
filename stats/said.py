"""Messages said in both of the product's languages.

A refusal raised deep in the access layer reaches a command line (English, as every command's
output is), an API answer (English, machine-read) and a dashboards page (zh-TW or English, as
the reader chose). ``Said`` is that message: a ``str`` that is the English wording — so
``str(error)``, logs and every existing caller are unchanged — and carries its zh-TW wording
beside it for the pages that show it to a person reading Chinese.
"""

from __future__ import annotations

from typing import Any

ZH_SUFFIX = "_zh"  # an audit detail's zh-TW wording is kept under "<key>_zh"


class Said(str):
    """English text that also knows its zh-TW wording (``.zh``)."""

    zh: str

    def __new__(cls, en: str, zh: str) -> Said:
        message = super().__new__(cls, en)
        message.zh = zh
        return message


def said(en: str, zh: str) -> Said:
    """A message in both languages."""
    return Said(en, zh)


def message_of(value: Any) -> str:
    """An exception's message or a text as given (``Said`` kept)."""
    if isinstance(value, BaseException):
        first = value.args[0] if len(value.args) == 1 else None
        return first if isinstance(first, str) else str(value)
    return value if isinstance(value, str) else str(value)


def in_language(value: Any, lang: str) -> str:
    """``value`` (a text or an exception) in ``lang``: its zh-TW wording when it has one."""
    message = message_of(value)
    if lang == "zh" and isinstance(message, Said):
        return message.zh
    return str(message)


def joined(parts: list[Any], separator: str = "; ", separator_zh: str = "；") -> Said:
    """Several messages as one, each language joined its own way."""
    return Said(separator.join(str(p) for p in parts),
                separator_zh.join(in_language(p, "zh") for p in parts))


def with_wording(details: dict[str, Any]) -> dict[str, Any]:
    """Audit details with the zh-TW wording of every two-language value stored beside it
    (``reason`` → ``reason_zh``), so the log's own JSON holds what an official reads."""
    out: dict[str, Any] = {}
    for key, value in details.items():
        out[key] = str(value) if isinstance(value, Said) else value
        if isinstance(value, Said):
            out[key + ZH_SUFFIX] = value.zh
    return out
