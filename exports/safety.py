"""Spreadsheet formula injection: text cells that a spreadsheet would run are made inert.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel and LibreOffice (OWASP "CSV injection"). Such text gets a leading
apostrophe, which spreadsheets show as text and never evaluate. Numbers are untouched:
only text columns (strings, categoricals) are rewritten, so a negative count stays a
number; a text column that holds numbers by construction (SDMX-CSV's ``OBS_VALUE``, numbers
or ``NaN``) is named in ``numbers`` and left as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
TRIGGER_PATTERN = "^[=+\\-@\t\r]"


def is_formula_like(text: str) -> bool:
    """Whether a spreadsheet would treat this text as a formula."""
    return text.startswith(TRIGGERS)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)


def neutralise_formulas(frame: pl.DataFrame, numbers: Iterable[str] = ()) -> pl.DataFrame:
    """Text columns (except ``numbers``) with every formula-like value prefixed by ``'``."""
    keep = set(numbers)
    columns = []
    for name, dtype in frame.schema.items():
        if name in keep or not _is_text(dtype):
            continue
        text = pl.col(name).cast(pl.String)
        columns.append(pl.when(text.str.contains(TRIGGER_PATTERN))
                       .then(pl.lit("'") + text).otherwise(text).alias(name))
    return frame.with_columns(columns) if columns else frame
