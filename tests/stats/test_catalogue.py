"""Every table of the contract has a catalogue entry with titles, units and footnotes."""

from __future__ import annotations

import pytest

from stats.catalogue import TABLES, UnknownTable, table_spec
from stats.schemas import TABLE_COLUMNS, table_schema


@pytest.mark.parametrize("name", list(TABLE_COLUMNS))
def test_every_table_is_catalogued_completely(name):
    spec = table_spec(name)
    assert spec.title_zh and spec.title_en and spec.footnotes_zh and spec.footnotes_en
    assert [c.name for c in spec.columns] == list(table_schema(name))
    for column in spec.columns:
        assert column.zh and column.en
        if column.name in TABLE_COLUMNS[name] and column.name not in spec.keys:
            assert column.unit_zh and column.unit_en, column.name  # every measure has a unit


def test_codes_are_unique_and_file_name_safe():
    codes = [spec.code for spec in TABLES.values()]
    assert len(set(codes)) == len(codes)
    assert all(code.isalnum() and code.isupper() for code in codes)


def test_unknown_table():
    with pytest.raises(UnknownTable, match="unknown table 'people'"):
        table_spec("people")


def test_catalogue_text_fits_every_export_encoding():
    """Labels and notes go into Big5 and EUC-TW files: none may need a fallback."""
    from stats.catalogue import COLUMNS, VALUE_LABELS
    from stats.encodings import unencodable

    text = "".join(c.zh + c.en + c.unit_zh + c.unit_en for c in COLUMNS.values())
    text += "".join(t.title_zh + t.title_en + "".join(t.footnotes_zh + t.footnotes_en)
                    for t in TABLES.values())
    text += "".join(zh + en for labels in VALUE_LABELS.values() for zh, en in labels.values())
    for encoding in ("cp950", "big5hkscs", "euc_tw"):
        assert unencodable(text, encoding) == [], encoding
