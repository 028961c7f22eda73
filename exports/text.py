"""Text in the agencies' encodings: MOI's made characters mapped, every unencodable character
reported with where it sits, never silently lost.

Policies for a character the target encoding cannot hold:
  ``strict``  (default) refuse, listing every such character with its area code and column;
  ``ncr``     write a numeric character reference ``&#x5D75;`` (HTML/XML style);
  ``replace`` write the visible marker □ and list the replacements in a side report.
Never ``?``, never a silent drop. MOI's private-use "made characters" (戶政造字,
U+F0000–U+FFFFD) are first mapped to standard Unicode where the mapping is known; an
unmapped one is reported like any unencodable character and never passed into Big5/EUC-TW.

BIG-5E (named by the regulation) has no implementation in Python, glibc, ICU, PyPI or
Debian; CP950 (Microsoft's Big5) and BIG5-HKSCS are offered instead. BIG5-HKSCS places some
characters in ranges that Taiwanese Big5 software reads as user-defined.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl

import stats.encodings  # noqa: F401  (registers euc_tw)
from stats.charsets import OFFERED, UnknownEncodingName, canonical
from stats.encodings import unencodable

ENCODINGS = OFFERED  # the one list (stats.charsets), shared with the extract reader
POLICIES = ("strict", "ncr", "replace")
MARKER = "□"  # U+25A1: present in CP950, BIG5-HKSCS and EUC-TW, and visibly not a letter

# MOI's household-registration made characters found in official village names, checked
# against the villages' published readings: 瓦磘里, 塭南里, 嵵裡里.
PRIVATE_USE_MAP: dict[str, str] = {
    chr(0xFFFA8): "\u78d8",  # 磘
    chr(0xFB56F): "\u586d",  # 塭 (U+586D; U+584D would be 塍)
    chr(0xFCC79): "\u5d75",  # 嵵
}


class UnknownEncoding(ValueError):
    """An encoding name outside the offered ones."""


@dataclass(frozen=True, order=True)
class CharProblem:
    """One character that the target encoding cannot hold, and where it is."""

    column: str
    area_code: str
    character: str
    value: str

    @property
    def codepoint(self) -> str:
        """``U+5D75`` form."""
        return f"U+{ord(self.character):04X}"

    def __str__(self) -> str:
        return (f"area {self.area_code}, column {self.column}: {self.character!r} ({self.codepoint}) "
                f"in {self.value!r}")


class Unencodable(ValueError):
    """Characters the target encoding cannot hold, all of them listed."""

    def __init__(self, encoding: str, problems: list[CharProblem]):
        self.encoding = encoding
        self.problems = sorted(problems)
        chars = sorted({p.codepoint for p in self.problems})
        hint = (" (BIG-5E is not implemented anywhere; CP950 and BIG5-HKSCS are the nearest)"
                if encoding in ("cp950", "big5hkscs") else "")
        super().__init__(
            f"{len(self.problems)} character occurrence(s) cannot be written in {encoding}{hint}: "
            f"{', '.join(chars)}; use --policy ncr or --policy replace, or another encoding"
        )

    def report(self) -> str:
        """Every occurrence, one per line."""
        return "\n".join([str(self), *map(str, self.problems)])


def codec(encoding: str) -> str:
    """The Python codec for an offered encoding name or its alias (``big5`` → cp950)."""
    try:
        return ENCODINGS[canonical(encoding)]
    except UnknownEncodingName as exc:
        raise UnknownEncoding(str(exc)) from None


def load_private_use_map(path: Path | None) -> dict[str, str]:
    """The shipped made-character map, extended by a user's CSV (``codepoint,character``,
    e.g. ``U+FFFA8,磘``)."""
    mapping = dict(PRIVATE_USE_MAP)
    if path is None:
        return mapping
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            mapping[chr(int(row["codepoint"].removeprefix("U+"), 16))] = row["character"]
    return mapping


def is_private_use(char: str) -> bool:
    """Plane 15/16 private use (MOI's made characters live there) or the BMP private area."""
    return 0xF0000 <= ord(char) <= 0x10FFFD or 0xE000 <= ord(char) <= 0xF8FF


@dataclass(frozen=True)
class TextReport:
    """What was done to text on the way into an encoding (for side reports)."""

    mapped: tuple[CharProblem, ...] = ()  # made characters mapped to standard Unicode
    replaced: tuple[CharProblem, ...] = ()  # characters written by policy ncr/replace


def _fix_value(value: str, mapping: dict[str, str], python_codec: str, policy: str,
               private_ok: bool) -> tuple[str, list[str], list[str]]:
    """(new value, made characters mapped, characters that cannot be written)."""
    mapped = [c for c in value if c in mapping]
    text = "".join(mapping.get(c, c) for c in value)
    bad = [text[i] for i, _ in unencodable(text, python_codec)]
    if not private_ok:
        bad += [c for c in text if is_private_use(c) and c not in bad]
    if bad and policy != "strict":
        out = []
        for c in text:
            if c in bad:
                out.append(f"&#x{ord(c):X};" if policy == "ncr" else MARKER)
            else:
                out.append(c)
        text = "".join(out)
    return text, mapped, bad


def prepare_text(
    frame: pl.DataFrame,
    encoding: str,
    policy: str = "strict",
    private_use: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, TextReport]:
    """String columns made writable in ``encoding`` under ``policy``.

    Works on the distinct values of each string column, so national tables cost little.

    Raises
    ------
    Unencodable
        Under ``strict``, listing every character occurrence with area code and column.
    """
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r}; expected one of {', '.join(POLICIES)}")
    python_codec = codec(encoding)
    mapping = PRIVATE_USE_MAP if private_use is None else private_use
    private_ok = python_codec.startswith("utf")
    problems, mapped_all, replaced_all = [], [], []
    fixes: dict[str, dict[str, str]] = {}
    area = "area_code" if "area_code" in frame.columns else None
    for column, dtype in frame.schema.items():
        if dtype != pl.String:
            continue
        column_fixes = {}
        for value in frame[column].drop_nulls().unique().to_list():
            text, mapped, bad = _fix_value(value, mapping, python_codec, policy, private_ok)
            if text != value:
                column_fixes[value] = text
            if mapped or bad:
                where = frame.filter(pl.col(column) == value)
                codes = where[area].unique().sort().to_list() if area else [""]
                for code in codes:
                    mapped_all += [CharProblem(column, code, c, value) for c in mapped]
                    found = [CharProblem(column, code, c, value) for c in bad]
                    (problems if policy == "strict" else replaced_all).extend(found)
        if column_fixes:
            fixes[column] = column_fixes
    if problems:
        raise Unencodable(encoding, problems)
    if fixes:
        frame = frame.with_columns([pl.col(c).replace(f) for c, f in fixes.items()])
    return frame, TextReport(tuple(mapped_all), tuple(replaced_all))
