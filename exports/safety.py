"""Spreadsheet formula injection: text cells that a spreadsheet would run are made inert.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel and LibreOffice (OWASP "CSV injection"). Such text gets a leading
apostrophe, which spreadsheets show as text and never evaluate. Numbers are untouched:
only string columns are rewritten, so a negative count stays a number.
"""

from __future__ import annotations

import polars as pl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would treat this text as a formula."""
    return text.startswith(TRIGGERS)


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """String columns with every formula-like value prefixed by an apostrophe."""
    pattern = "^[=+\\-@\t\r]"
    return frame.with_columns(
        [
            pl.when(pl.col(name).str.contains(pattern))
            .then(pl.lit("'") + pl.col(name))
            .otherwise(pl.col(name))
            .alias(name)
            for name, dtype in frame.schema.items()
            if dtype == pl.String
        ]
    )
