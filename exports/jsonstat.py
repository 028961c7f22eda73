"""JSON-stat 2.0: a release table as one ``dataset`` (a cube), with its metadata.

The table becomes the cube ``period × area × <keys> × measure`` (``id``/``size``), its values
one flat ``value`` array in row-major order (the last dimension, ``measure``, varies fastest;
JSON-stat 2.0 §value). Roles: ``time`` = period, ``geo`` = area, ``metric`` = measure, whose
categories carry ``unit`` (label, decimals). The area dimension carries the hierarchy
(national → county → township → village) in ``category.child``.

Languages: JSON-stat 2.0 has one label per object and no language tags, so every ``label``
is zh-TW (the publication language) and the English texts travel in ``extension``: each
dimension has ``extension.label_en`` and, for coded keys, ``extension.category_label_en``;
the dataset's ``extension`` holds the English title, notes and source plus the release's
revision, table checksum and creation time. ``note`` holds the zh-TW footnotes. A null
(a ratio with a zero denominator, CONTRACT §3) is ``null`` in ``value``. Cells marked r
(revised) or p (provisional) (``exports.marks``) have that mark in ``status``, an object of
value index → mark listing the marked cells only; the footnotes say what the marks mean.

JSON is Unicode: the file is UTF-8 without BOM (RFC 8259 §8.1), whatever encoding is asked.

Grouped tables (the table builder's selections, ``access.packages.selected_rows``): a key
summed over is simply absent from the frame and so from the cube; a key grouped into bands
is the column ``<key>_group`` holding band labels (``0-4`` … ``100+``). Its categories are
the bands in ascending order (by lower bound, not as text, and not by first appearance: a
band missing from the first area must not move), labelled with the band itself (an open
top band reads "100歲以上"/"100 and over"); the dimension is named after the key plus
組/group (年齡組, Age group) under its own id ``age_group``, so it never passes for the
single-value ``age`` code list. Rows whose band is null (a value outside every band the
selection asked for) belong to no category and are left out.

``table_cube`` (the table laid out as a complete, ordered cube), ``key_column`` and
``key_labels`` are shared with the PC-Axis and SDMX writers.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import polars as pl

from exports.marks import cube_marks
from exports.meta import ExportMeta
from stats.catalogue import VALUE_LABELS, Column, TableSpec
from stats.schemas import OUTSIDE_CODE

AREA = "area"
MEASURE = "measure"
AREA_LABEL = ("區域", "Area")
MEASURE_LABEL = ("統計項目", "Measure")
PERIOD_LABEL = ("統計期", "Period")
LEVEL_PARENT_DIGITS = {"county": 0, "township": 5, "village": 8}  # prefix length of the parent code
GROUP = "_group"  # a key grouped into bands becomes the column <key>_group
BAND = re.compile(r"(?P<low>\d+)-(?P<high>\d+)|(?P<top>\d+)\+")  # access.packages.band_label


def base_key(key: str) -> str:
    """The release key a key column comes from: ``age_group`` → ``age``."""
    return key.removesuffix(GROUP)


def is_banded(key: str) -> bool:
    """Whether a key column holds band labels (``0-4``, ``100+``) rather than key values."""
    return key.endswith(GROUP)


def key_column(spec: TableSpec, key: str) -> Column:
    """The labels of a key column; a banded one is its key's plus 組/group (年齡組, Age group).

    ``access.packages.selected_spec`` names the band column the same way; a frame written
    with the release's own spec gets the same labels here.
    """
    if not is_banded(key) or any(c.name == key for c in spec.columns):
        return spec.column(key)
    column = spec.column(base_key(key))
    return dataclasses.replace(column, name=key, zh=f"{column.zh}組", en=f"{column.en} group")


def band_bounds(band: str) -> tuple[int, int | None]:
    """A band's lowest and highest value (``None`` for an open top band ``100+``).

    Raises
    ------
    ValueError
        For a label that is not a band (``low-high`` or ``low+``).
    """
    match = BAND.fullmatch(band)
    if match is None:
        raise ValueError(f"{band!r} is not a band (low-high or low+)")
    if match["top"] is not None:
        return int(match["top"]), None
    return int(match["low"]), int(match["high"])


def frame_keys(spec: TableSpec, frame: pl.DataFrame) -> tuple[str, ...]:
    """The frame's key columns in the table's key order; a key summed over is absent, a
    grouped one appears as its ``<key>_group`` column."""
    found = []
    for key in spec.keys:
        present = [c for c in (key, f"{base_key(key)}{GROUP}") if c in frame.columns]
        if present:
            found.append(present[0])
    return tuple(dict.fromkeys(found))


@dataclass(frozen=True)
class TableCube:
    """A table as a complete cube: areas × key values × measures, row-major ordered."""

    areas: pl.DataFrame  # area_code, area_name, area_level in release order
    keys: tuple[str, ...]  # non-area key columns, e.g. ("sex", "age") or ("sex", "age_group")
    key_values: dict[str, list[Any]]  # codes ascending; bands by lower bound
    measures: tuple[str, ...]
    rows: pl.DataFrame  # one row per (area, *keys), in cube order, measure columns (nulls for gaps)

    @property
    def shape(self) -> tuple[int, ...]:
        """Sizes of area, keys and measure, in that order."""
        keys = (len(self.key_values[k]) for k in self.keys)
        return (self.areas.height, *keys, len(self.measures))

    def values(self) -> pl.Series:
        """The flat value series, measure fastest; nulls kept, integer tables stay integer."""
        block = self.rows.select(self.measures)
        if len(set(block.dtypes)) > 1:
            block = block.cast(pl.Float64)
        return block.select(pl.concat_list(self.measures).alias("value")).explode("value")["value"]


def table_cube(frame: pl.DataFrame, meta: ExportMeta) -> TableCube:
    """Lay a release table out as a complete cube; combinations missing from the frame are null.

    Raises
    ------
    ValueError
        If the frame holds several periods or duplicate (area, key) rows.
    """
    if frame["period"].n_unique() > 1:
        periods = frame["period"].unique().to_list()
        raise ValueError(f"a table export holds one period, got {periods!r}")
    spec = meta.spec
    keys = frame_keys(spec, frame)
    measures = tuple(c.name for c in spec.columns
                     if c.name not in ("period", "area_level", "area_code", *spec.keys, *keys))
    if keys:  # a null band: the value lies outside every band the selection asked for
        frame = frame.drop_nulls(list(keys))
    areas = frame.select("area_code", "area_name", "area_level").unique("area_code", keep="first",
                                                                        maintain_order=True)
    # a band column holds labels (text); CONTRACT §8's own ``age_group`` keys hold numbers
    banded = {k for k in keys if is_banded(k) and frame.schema[k] == pl.String}
    key_values = {k: sorted(frame[k].unique().drop_nulls().to_list(),
                            key=band_bounds if k in banded else None) for k in keys}
    # band labels do not sort as text ("100+" before "15-19"): banded keys sort by position
    position = {k: f"_{k}" for k in keys if k in banded}
    order = ["_area", *(position.get(k, k) for k in keys)]
    index = {code: i for i, code in enumerate(areas["area_code"].to_list())}
    area = pl.col("area_code").replace_strict(index, return_dtype=pl.Int64).alias("_area")
    positions = [pl.col(k).replace_strict({v: i for i, v in enumerate(key_values[k])},
                                          return_dtype=pl.Int64).alias(p)
                 for k, p in position.items()]
    data = (frame.select("area_code", *keys, *measures).with_columns(area, *positions)
            .sort(order))
    if data.select("_area", *keys).is_duplicated().any():
        raise ValueError("the table holds duplicate rows for one area and key combination")
    helpers = ["_area", *position.values()]
    size = areas.height
    for k in keys:
        size *= len(key_values[k])
    if data.height == size:  # complete (release tables hold every combination, CONTRACT §3)
        return TableCube(areas, keys, key_values, measures, data.drop(helpers))
    grid = areas.select("area_code", pl.int_range(pl.len(), dtype=pl.Int64).alias("_area"))
    for k in keys:
        values = pl.DataFrame({k: key_values[k]}, schema={k: frame.schema[k]})
        if k in position:
            values = values.with_row_index(position[k]).with_columns(
                pl.col(position[k]).cast(pl.Int64))
        grid = grid.join(values, how="cross")
    rows = (grid.join(data.drop("area_code", *position.values()), on=["_area", *keys],
                      how="left", maintain_order="left")
            .sort(order).drop(helpers))
    return TableCube(areas, keys, key_values, measures, rows)


def band_labels(key: str, band: str) -> tuple[str, str]:
    """zh-TW and English label of a band: the band itself; an open top band ``100+`` reads
    "100歲以上"/"100 and over" (ages in 歲, like the single ages' labels)."""
    if not band.endswith("+"):
        return band, band
    low = band.removesuffix("+")
    unit = "歲" if base_key(key) == "age" else ""
    return f"{low}{unit}以上", f"{low} and over"


TO_CODE_LABELS = {OUTSIDE_CODE: ("戶籍以外", "outside the register")}


def key_labels(key: str, value: Any) -> tuple[str, str]:
    """zh-TW and English label of one key value (age 100 is "100 and over") or band."""
    if is_banded(key) and isinstance(value, str):  # §8's age_group keys are numbers
        return band_labels(key, value)
    if key == "to_code":  # migration_flows' destination: a county code, or 99999
        return TO_CODE_LABELS.get(value, (value, value))
    if key == "age" and value == 100:
        return f"{value}歲以上", f"{value} and over"
    if key == "age":
        return f"{value}歲", str(value)
    zh, en = VALUE_LABELS[key][value]
    return zh, en


def area_children(areas: pl.DataFrame) -> dict[str, list[str]]:
    """Parent code → child codes, from the code structure (county = 5, township = 8 digits)."""
    present = set(areas["area_code"].to_list())
    national = next((c for c, lv in zip(areas["area_code"], areas["area_level"], strict=True)
                     if lv == "national"), None)
    children: dict[str, list[str]] = {}
    for code, level in zip(areas["area_code"], areas["area_level"], strict=True):
        if level == "national":
            continue
        digits = LEVEL_PARENT_DIGITS[level]
        parent = national if digits == 0 else code[:digits]
        if parent is not None and parent in present:
            children.setdefault(parent, []).append(code)
    return children


def _dimension(label: tuple[str, str], index: list[str], labels: dict[str, tuple[str, str]],
               **category: Any) -> dict[str, Any]:
    return {
        "label": label[0],
        "category": {"index": index, "label": {i: labels[i][0] for i in index}, **category},
        "extension": {"label_en": label[1], "category_label_en": {i: labels[i][1] for i in index}},
    }


def dataset(frame: pl.DataFrame, meta: ExportMeta) -> dict[str, Any]:
    """The JSON-stat 2.0 dataset object of a table."""
    cube = table_cube(frame, meta)
    spec, info = meta.spec, meta.describe()
    codes = cube.areas["area_code"].to_list()
    names = dict(zip(codes, cube.areas["area_name"].to_list(), strict=True))
    area = {
        "label": AREA_LABEL[0],
        "category": {"index": codes, "label": names, "child": area_children(cube.areas)},
        "extension": {"label_en": AREA_LABEL[1],
                      "level": dict(zip(codes, cube.areas["area_level"].to_list(), strict=True))},
    }
    dimensions: dict[str, Any] = {
        "period": _dimension(PERIOD_LABEL, [meta.period],
                             {meta.period: (meta.period_roc, meta.period)}),
        AREA: area,
    }
    for key in cube.keys:
        column = key_column(spec, key)
        ids = [str(v) for v in cube.key_values[key]]
        dimensions[key] = _dimension((column.zh, column.en), ids,
                                     {str(v): key_labels(key, v) for v in cube.key_values[key]})
    columns = {m: spec.column(m) for m in cube.measures}
    measure = _dimension(MEASURE_LABEL, list(cube.measures),
                         {m: (c.zh, c.en) for m, c in columns.items()})
    # JSON-stat unit.decimals is the number of decimals to show: counts 0, ratios and rates 2
    # (the values themselves stay unrounded).
    floating = {m for m in cube.measures if cube.rows.schema[m].is_float()}
    measure["category"]["unit"] = {m: {"label": c.unit_zh, "decimals": 2 if m in floating else 0}
                                   for m, c in columns.items()}
    measure["extension"]["unit_en"] = {m: c.unit_en for m, c in columns.items()}
    dimensions[MEASURE] = measure
    value_list = cube.values().fill_nan(None).to_list() if floating else cube.values().to_list()
    ids = ["period", AREA, *cube.keys, MEASURE]
    marks = cube_marks(cube, meta)
    # JSON-stat 2.0 ``status``: an object of value index → status, for the marked cells only
    marked = None if marks is None else (marks.to_frame("mark").with_row_index("i")
                                         .filter(pl.col("mark") != ""))
    status = {} if marked is None else {"status": dict(zip(
        marked["i"].cast(pl.String).to_list(), marked["mark"].to_list(), strict=True))}
    return {
        "version": "2.0",
        "class": "dataset",
        "label": f"{spec.title_zh}（{meta.period_roc}）",
        "source": f"{meta.provider_zh}，{info['source_zh']}",
        "updated": meta.created_at,
        "id": ids,
        "size": [1, *cube.shape],
        "role": {"time": ["period"], "geo": [AREA], "metric": [MEASURE]},
        "dimension": dimensions,
        "note": list(spec.footnotes_zh),
        "extension": {
            "table": spec.table,
            "table_code": spec.code,
            "title_en": spec.title_en,
            "period": meta.period,
            "period_roc": meta.period_roc,
            "revision": meta.revision,
            "table_sha256": meta.table_sha256,
            "created_at": meta.created_at,
            "source_en": f"{meta.provider_en}, {info['source_en']}",
            "note_en": list(spec.footnotes_en),
            "software": info["software"],
        },
        "value": value_list,
        **status,
    }


def write_jsonstat(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as a JSON-stat 2.0 dataset, UTF-8 (JSON's own encoding)."""
    text = json.dumps(dataset(frame, meta), ensure_ascii=False, separators=(",", ":"),
                      allow_nan=False)
    dest.write(text.encode("utf-8"))
