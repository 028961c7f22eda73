"""SDMX: a release table as SDMX-CSV 2.0 data, and its data-structure definition (DSD) as an
SDMX-ML 2.1 structure message.

SDMX-CSV 2.0 (sdmx-twg/sdmx-csv, aligned with SDMX 3.0), one observation per line:
  STRUCTURE, STRUCTURE_ID, ACTION, FREQ, REF_AREA, <SEX, AGE | SEX, MARITAL_STATUS |
  INDIGENOUS>, MEASURE, TIME_PERIOD, OBS_VALUE, UNIT_MEASURE, OBS_STATUS, REF_AREA_NAME
with STRUCTURE = ``dataflow``, STRUCTURE_ID = ``TW_MOI:DF_POP02(1.0)``, ACTION = ``I``
(information). REF_AREA_NAME is a custom column (the format allows any further uniquely
named column) with the zh-TW area name, so the text encodings matter; lines end in CRLF
(RFC 4180). A null (a ratio with a zero denominator) is written as SDMX writes a missing
observation: OBS_VALUE ``NaN`` with OBS_STATUS ``M`` (missing, cannot exist); every other
observation has OBS_STATUS ``A`` (normal), or, for a cell marked (``exports.marks``), ``R``
(revised) or ``P`` (provisional); the DSD's CL_OBS_STATUS then lists those codes too.

Codes: FREQ M/Q/A from the period; TIME_PERIOD in SDMX's forms, which are the contract's
(``2025-03``, ``2025-Q1``, ``2025``); REF_AREA the area code; SEX ``M``/``F`` and AGE
``Y0`` … ``Y99``, ``Y_GE100`` follow the SDMX cross-domain code lists; MARITAL_STATUS and
INDIGENOUS keep the contract's digits; MEASURE is the release column name in capitals;
UNIT_MEASURE codes come from the catalogue's English unit (``PERSONS``, ``PER_1000`` …).

Grouped tables (``exports.jsonstat`` describes them): a key summed over is no dimension; a
key grouped into bands is the dimension ``<KEY>_GROUP`` (AGE_GROUP, 年齡組/Age group) with
its own code list ``CL_AGE_GROUP``, apart from the single-year ``CL_AGE``: bands are coded
as the SDMX cross-domain age ranges ``Y0T4`` … ``Y95T99``, ``Y_GE100`` and named by the band
(``0-4``; ``100+`` reads "100歲以上"/"100 and over").

The DSD (``data_structure``) is one structure message per table: the dataflow (annotated
with period, revision, table checksum, creation time, source and footnotes in zh-TW and
English), the code lists (areas with their parents, so the hierarchy travels), the concept
scheme and the data structure. It is always UTF-8 XML; the CLI writes it beside the CSV as
``<file>.dsd.xml`` (``write_structure``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import BinaryIO

import polars as pl

from exports.jsonstat import (
    TableCube,
    area_children,
    band_bounds,
    base_key,
    is_banded,
    key_column,
    key_labels,
    table_cube,
)
from exports.delimited import write_safe_csv
from exports.marks import cube_marks
from exports.meta import ExportMeta
from exports.safety import neutralise_formulas
from exports.text import prepare_text
from stats.marks import PROVISIONAL, REVISED
from stats.periods import Period

AGENCY = "TW_MOI"
MISSING = "NaN"  # SDMX's missing observation value, with OBS_STATUS M
VERSION = "1.0"
CONCEPTS = "CS_POPSTATS"
DIMENSION_OF_KEY = {"sex": "SEX", "age": "AGE", "marital_status": "MARITAL_STATUS",
                    "indigenous": "INDIGENOUS",
                    # CONTRACT §8 keys (``age_group``/``mother_age_group`` → AGE_GROUP/…)
                    "mother_age": "MOTHER_AGE", "mother_nationality": "MOTHER_NATIONALITY",
                    "nationality": "NATIONALITY", "tribe": "TRIBE",
                    "to_code": "COUNTERPART_AREA"}
FREQ = {"month": ("M", "月", "Monthly"), "quarter": ("Q", "季", "Quarterly"),
        "year": ("A", "年", "Annual")}
OBS_STATUS = {"A": ("正常值", "Normal value"),
              "M": ("無資料（分母為零，無法計算）", "Missing value; data cannot exist")}
# the cell marks (exports.marks), listed only in a file that has them: P is SDMX's own
# provisional value; SDMX's list has no revised value, so R is this agency's code
MARK_STATUS = {"R": ("修正值（與本期前次公布之版次不同）",
                     "Revised value (differs from the previous published revision)"),
               "P": ("初步值", "Provisional value")}
# names of the fixed concepts; a key's concept is named by the catalogue (key_column)
CONCEPT_NAMES = {
    "FREQ": ("頻率", "Frequency"), "REF_AREA": ("區域", "Reference area"),
    "MEASURE": ("統計項目", "Measure"),
    "TIME_PERIOD": ("統計期", "Time period"), "OBS_VALUE": ("觀察值", "Observation value"),
    "UNIT_MEASURE": ("單位", "Unit of measure"), "OBS_STATUS": ("觀察值狀態", "Observation status"),
}
NS = {
    "mes": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message",
    "str": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure",
    "com": "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common",
}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ZH = "zh-TW"


def dimension_of(key: str) -> str:
    """The SDMX dimension of a key column: ``sex`` → SEX, banded ``age_group`` → AGE_GROUP."""
    dimension = DIMENSION_OF_KEY[base_key(key)]
    return f"{dimension}_GROUP" if is_banded(key) else dimension


def band_code(key: str, band: str) -> str:
    """The SDMX code of a band (``0-4`` → ``Y0T4``, ``100+`` → ``Y_GE100`` for ages).

    Raises
    ------
    ValueError
        For a label that is not a band (``low-high`` or ``low+``).
    """
    low, high = band_bounds(band)
    years = "Y" if base_key(key) == "age" else ""
    if high is None:
        return f"{years}_GE{low}" if years else f"GE{low}"
    return f"{years}{low}T{high}"


def code_of(key: str, value: int | str) -> str:
    """The SDMX code of a key value: SEX M/F, AGE Y0…Y_GE100, bands Y0T4…Y_GE100, other keys
    their digits."""
    if is_banded(key) and isinstance(value, str):  # §8's age_group keys are numbers
        return band_code(key, value)
    if key == "sex":
        return {0: "_T", 1: "M", 2: "F"}[value]  # 0: the life table's both sexes
    if key == "age":
        return "Y_GE100" if value == 100 else f"Y{value}"
    return str(value)


def unit_code(unit_en: str) -> str:
    """An SDMX id for a catalogue unit: ``per 1,000`` → ``PER_1000``, ``%``-units → ``PERCENT``."""
    return re.sub(r"[^A-Z0-9]+", "_", unit_en.upper().replace(",", "")).strip("_") or "PURE_NUMBER"


def flow_id(meta: ExportMeta) -> str:
    """``TW_MOI:DF_POP02(1.0)``, the STRUCTURE_ID of the table's dataflow."""
    return f"{AGENCY}:DF_{meta.spec.code}({VERSION})"


def observations(frame: pl.DataFrame, meta: ExportMeta) -> pl.DataFrame:
    """The table as SDMX-CSV 2.0 rows (one per observation), in cube order."""
    cube = table_cube(frame, meta)
    kind = Period.parse(meta.period).kind
    # The area name is the only free text: made inert for spreadsheets like any CSV text.
    names = neutralise_formulas(
        cube.areas.select("area_code", pl.col("area_name").alias("REF_AREA_NAME")))
    units = {m: unit_code(meta.spec.column(m).unit_en) for m in cube.measures}
    key_codes = {k: pl.col(k).replace_strict({v: code_of(k, v) for v in cube.key_values[k]},
                                             return_dtype=pl.String)
                 for k in cube.keys}
    wide = cube.rows.with_row_index("_row").join(names, on="area_code", how="left",
                                                 maintain_order="left")
    if len({cube.rows.schema[m] for m in cube.measures}) > 1:
        wide = wide.with_columns(pl.col(m).cast(pl.Float64) for m in cube.measures)
    order = {m: i for i, m in enumerate(cube.measures)}
    long = (wide
            .unpivot(on=list(cube.measures),
                     index=["_row", "area_code", "REF_AREA_NAME", *cube.keys],
                     variable_name="measure", value_name="OBS_VALUE")
            .with_columns(pl.col("measure").replace_strict(order, return_dtype=pl.Int32)
                          .alias("_m"))
            .sort("_row", "_m"))
    marks = cube_marks(cube, meta)
    status = pl.when(pl.col("OBS_VALUE").is_null()).then(pl.lit("M"))
    if marks is not None:  # aligned: long is in cube order, measure fastest
        long = long.with_columns(marks.alias("_mark"))
        status = (status.when(pl.col("_mark") == PROVISIONAL).then(pl.lit("P"))
                  .when(pl.col("_mark") == REVISED).then(pl.lit("R")))
    status = status.otherwise(pl.lit("A"))
    return long.select(
        pl.lit("dataflow").alias("STRUCTURE"),
        pl.lit(flow_id(meta)).alias("STRUCTURE_ID"),
        pl.lit("I").alias("ACTION"),
        pl.lit(FREQ[kind][0]).alias("FREQ"),
        pl.col("area_code").alias("REF_AREA"),
        *(key_codes[k].alias(dimension_of(k)) for k in cube.keys),
        pl.col("measure").str.to_uppercase().alias("MEASURE"),
        pl.lit(meta.period).alias("TIME_PERIOD"),
        pl.col("OBS_VALUE").cast(pl.String).fill_null(MISSING),
        pl.col("measure").replace_strict(units, return_dtype=pl.String).alias("UNIT_MEASURE"),
        status.alias("OBS_STATUS"),
        pl.col("REF_AREA_NAME"),
    )


def write_sdmx_csv(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO, *, encoding: str) -> None:
    """Write the table as SDMX-CSV 2.0 in ``encoding``, streamed in slices (by the one
    CSV writer, ``exports.delimited.write_safe_csv``)."""
    # OBS_VALUE is text only to hold SDMX's NaN beside the numbers: it is left as it is
    write_safe_csv(observations(frame, meta), dest, encoding=encoding, numbers=["OBS_VALUE"])


# --- the data-structure definition (SDMX-ML 2.1 structure message) ---------------------------


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    """A child element; ``tag`` is ``prefix:name`` in the SDMX-ML namespaces."""
    prefix, _, local = tag.partition(":")
    element = ET.SubElement(parent, f"{{{NS[prefix]}}}{local}" if local else tag, attrs)
    if text is not None:
        element.text = text
    return element


def _names(parent: ET.Element, zh: str, en: str | None = None, tag: str = "com:Name") -> None:
    """zh-TW and (where known) English texts of one element."""
    _el(parent, tag, zh, **{XML_LANG: ZH})
    if en:
        _el(parent, tag, en, **{XML_LANG: "en"})


def _ref(parent: ET.Element, **attrs: str) -> None:
    """A reference to another artefact or component."""
    ET.SubElement(parent, "Ref", attrs)  # Ref elements are unqualified in SDMX-ML 2.1


def _codelist(parent: ET.Element, cl_id: str, name: tuple[str, str],
              codes: list[tuple[str, str, str | None, str | None]]) -> None:
    """A code list; codes are (id, zh-TW name, English name, parent id)."""
    codelist = _el(parent, "str:Codelist", id=cl_id, agencyID=AGENCY, version=VERSION)
    _names(codelist, *name)
    for code_id, zh, en, parent_id in codes:
        code = _el(codelist, "str:Code", id=code_id)
        _names(code, zh, en)
        if parent_id:
            _ref(_el(code, "str:Parent"), id=parent_id)


def _annotations(parent: ET.Element, meta: ExportMeta) -> None:
    """Provenance and notes of the export as dataflow annotations (typed, zh-TW and English)."""
    info = meta.describe()
    annotations = _el(parent, "com:Annotations")
    titled = [("PERIOD", meta.period, meta.period_roc), ("REVISION", str(meta.revision), None),
              ("TABLE_SHA256", meta.table_sha256, None), ("CREATED", meta.created_at, None),
              ("SOFTWARE", info["software"], None)]
    for kind, title, zh in titled:
        annotation = _el(annotations, "com:Annotation")
        _el(annotation, "com:AnnotationTitle", title)
        _el(annotation, "com:AnnotationType", kind)
        if zh:
            _el(annotation, "com:AnnotationText", zh, **{XML_LANG: ZH})
    source = ("SOURCE", f"{meta.provider_zh}，{info['source_zh']}",
              f"{meta.provider_en}, {info['source_en']}")
    notes = zip(meta.spec.footnotes_zh, meta.spec.footnotes_en, strict=True)
    for kind, zh, en in (source, *(("NOTE", z, e) for z, e in notes)):
        annotation = _el(annotations, "com:Annotation")
        _el(annotation, "com:AnnotationType", kind)
        _names(annotation, zh, en, tag="com:AnnotationText")


def _component(parent: ET.Element, tag: str, component_id: str, codelist: str | None,
               text_type: str | None = None, **attrs: str) -> ET.Element:
    """A DSD component: its concept, then its code list or text format."""
    component = _el(parent, tag, id=component_id, **attrs)
    _ref(_el(component, "str:ConceptIdentity"), id=component_id, maintainableParentID=CONCEPTS,
         maintainableParentVersion=VERSION, agencyID=AGENCY, package="conceptscheme",
         **{"class": "Concept"})
    representation = _el(component, "str:LocalRepresentation")
    if codelist:
        _ref(_el(representation, "str:Enumeration"), id=codelist, version=VERSION,
             agencyID=AGENCY, package="codelist", **{"class": "Codelist"})
    else:
        _el(representation, "str:TextFormat", textType=text_type or "String")
    return component


def _codelists(structures: ET.Element, cube: TableCube, meta: ExportMeta) -> None:
    """Code lists of every coded component; areas carry their parent (the hierarchy)."""
    codelists = _el(structures, "str:Codelists")
    freq, freq_zh, freq_en = FREQ[Period.parse(meta.period).kind]
    _codelist(codelists, "CL_FREQ", CONCEPT_NAMES["FREQ"], [(freq, freq_zh, freq_en, None)])
    children = area_children(cube.areas).items()
    parents = {child: parent for parent, kids in children for child in kids}
    areas = cube.areas.select("area_code", "area_name").iter_rows()
    _codelist(codelists, "CL_AREA", CONCEPT_NAMES["REF_AREA"],
              [(c, n or c, None, parents.get(c)) for c, n in areas])
    for key in cube.keys:
        column = key_column(meta.spec, key)
        _codelist(codelists, f"CL_{dimension_of(key)}", (column.zh, column.en),
                  [(code_of(key, v), *key_labels(key, v), None) for v in cube.key_values[key]])
    columns = [meta.spec.column(m) for m in cube.measures]
    _codelist(codelists, "CL_MEASURE", CONCEPT_NAMES["MEASURE"],
              [(c.name.upper(), c.zh, c.en, None) for c in columns])
    units = {unit_code(c.unit_en): (c.unit_zh, c.unit_en) for c in columns}
    _codelist(codelists, "CL_UNIT", CONCEPT_NAMES["UNIT_MEASURE"],
              [(u, zh, en, None) for u, (zh, en) in units.items()])
    statuses = {**OBS_STATUS, **(MARK_STATUS if cube_marks(cube, meta) is not None else {})}
    _codelist(codelists, "CL_OBS_STATUS", CONCEPT_NAMES["OBS_STATUS"],
              [(s, zh, en, None) for s, (zh, en) in statuses.items()])


def _structure(structures: ET.Element, cube: TableCube, meta: ExportMeta) -> None:
    """The concept scheme and the data structure definition itself."""
    concepts = _el(_el(structures, "str:Concepts"), "str:ConceptScheme", id=CONCEPTS,
                   agencyID=AGENCY, version=VERSION)
    _names(concepts, "戶籍人口統計概念", "Household register population statistics concepts")
    columns = {dimension_of(k): key_column(meta.spec, k) for k in cube.keys}
    names = {**CONCEPT_NAMES, **{d: (c.zh, c.en) for d, c in columns.items()}}
    dims = list(columns)
    for concept in ("FREQ", "REF_AREA", *dims, "MEASURE", "TIME_PERIOD", "OBS_VALUE",
                    "UNIT_MEASURE", "OBS_STATUS"):
        _names(_el(concepts, "str:Concept", id=concept), *names[concept])
    dsd = _el(_el(structures, "str:DataStructures"), "str:DataStructure",
              id=f"DSD_{meta.spec.code}", agencyID=AGENCY, version=VERSION)
    _names(dsd, meta.spec.title_zh, meta.spec.title_en)
    components = _el(dsd, "str:DataStructureComponents")
    dimensions = _el(components, "str:DimensionList", id="DimensionDescriptor")
    coded = [("FREQ", "CL_FREQ"), ("REF_AREA", "CL_AREA"), *((d, f"CL_{d}") for d in dims),
             ("MEASURE", "CL_MEASURE")]
    for position, (dim, codelist) in enumerate(coded, start=1):
        _component(dimensions, "str:Dimension", dim, codelist, position=str(position))
    _component(dimensions, "str:TimeDimension", "TIME_PERIOD", None, "ObservationalTimePeriod",
               position=str(len(coded) + 1))
    attributes = _el(components, "str:AttributeList", id="AttributeDescriptor")
    # the unit belongs to the measure; the status to each observation
    unit = _component(attributes, "str:Attribute", "UNIT_MEASURE", "CL_UNIT",
                      assignmentStatus="Mandatory")
    _ref(_el(_el(unit, "str:AttributeRelationship"), "str:Dimension"), id="MEASURE")
    status = _component(attributes, "str:Attribute", "OBS_STATUS", "CL_OBS_STATUS",
                        assignmentStatus="Mandatory")
    _ref(_el(_el(status, "str:AttributeRelationship"), "str:PrimaryMeasure"), id="OBS_VALUE")
    measures = _el(components, "str:MeasureList", id="MeasureDescriptor")
    _component(measures, "str:PrimaryMeasure", "OBS_VALUE", None, "Double")


def data_structure(frame: pl.DataFrame, meta: ExportMeta,
                   private_use: dict[str, str] | None = None) -> bytes:
    """The SDMX-ML 2.1 structure message (dataflow, code lists, concepts, DSD) of a table."""
    frame, _ = prepare_text(frame, "utf-8", "strict", private_use)  # made characters mapped
    cube = table_cube(frame, meta)
    code = meta.spec.code
    for prefix, uri in NS.items():
        ET.register_namespace(prefix, uri)
    root = ET.Element(f"{{{NS['mes']}}}Structure")
    header = _el(root, "mes:Header")
    _el(header, "mes:ID", f"{code}_{meta.period}_R{meta.revision}".replace("-", "_"))
    _el(header, "mes:Test", "false")
    _el(header, "mes:Prepared", meta.created_at)
    _names(_el(header, "mes:Sender", id=AGENCY), meta.provider_zh, meta.provider_en)
    structures = _el(root, "mes:Structures")
    flow = _el(_el(structures, "str:Dataflows"), "str:Dataflow", id=f"DF_{code}",
               agencyID=AGENCY, version=VERSION)
    _annotations(flow, meta)
    _names(flow, meta.spec.title_zh, meta.spec.title_en)
    _ref(_el(flow, "str:Structure"), id=f"DSD_{code}", version=VERSION, agencyID=AGENCY,
         package="datastructure", **{"class": "DataStructure"})
    _codelists(structures, cube, meta)
    _structure(structures, cube, meta)
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True)


def write_structure(frame: pl.DataFrame, meta: ExportMeta, dest: BinaryIO,
                    private_use: dict[str, str] | None = None) -> None:
    """Write the table's SDMX-ML 2.1 structure message (the companion ``.dsd.xml``)."""
    dest.write(data_structure(frame, meta, private_use))
