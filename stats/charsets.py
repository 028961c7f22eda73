"""The one list of text encodings people may name, for reading extracts and writing exports.

``popstats build --encoding`` and ``popstats export --encoding`` take their choices from
here, so a name one command accepts the other accepts too. ``big5`` is an alias of
``cp950`` (Microsoft's Big5, what Taiwanese offices call Big5); BIG-5E, named by the
regulation, has no implementation anywhere (Python, glibc, ICU, PyPI, Debian).
"""

from __future__ import annotations

# Names only: the EUC-TW codec itself is registered by stats.encodings, which the readers
# and writers import (this module stays light for the command line's start-up).

# The contract's names (CONTRACT §4), in its order, with the Python codec each writes in.
OFFERED: dict[str, str] = {
    "utf-8-sig": "utf-8-sig",
    "utf-8": "utf-8",
    "cp950": "cp950",
    "big5hkscs": "big5hkscs",
    "euc-tw": "euc_tw",
}
# Other spellings people use for the same encodings.
ALIASES: dict[str, str] = {"big5": "cp950", "utf8": "utf-8", "euc_tw": "euc-tw", "euctw": "euc-tw"}
# What the commands show as choices: the offered names, then the common alias big5.
CHOICES: tuple[str, ...] = (*OFFERED, "big5")


class UnknownEncodingName(ValueError):
    """An encoding name that is neither offered nor an alias of an offered one."""


def canonical(name: str) -> str:
    """The offered name for ``name`` (``big5`` → ``cp950``, case ignored)."""
    lowered = name.strip().lower()
    lowered = ALIASES.get(lowered, lowered)
    if lowered not in OFFERED:
        raise UnknownEncodingName(
            f"unknown encoding {name!r}; expected one of {', '.join(CHOICES)} "
            "(BIG-5E has no implementation anywhere: use cp950 or big5hkscs)"
        )
    return lowered


def reading_codec(name: str) -> str:
    """The Python codec that decodes a file declared as ``name`` (a UTF-8 BOM is skipped
    by the reader itself, so ``utf-8-sig`` reads as ``utf-8``)."""
    codec = OFFERED[canonical(name)]
    return "utf-8" if codec == "utf-8-sig" else codec
