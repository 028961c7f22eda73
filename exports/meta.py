"""What travels with every exported file: table, period, revision, checksum, labels, notes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from stats.catalogue import TableSpec, table_spec
from stats.periods import Period
from stats.release import read_areas, read_manifest, read_table
from stats.schemas import OUTSIDE_CODE
from stats.taipei import format_time

PROVIDER_ZH, PROVIDER_EN = "內政部", "Ministry of the Interior"
SOFTWARE = "popstats"


@dataclass(frozen=True)
class ExportMeta:
    """Everything a writer needs besides the rows: labels, provenance, notes."""

    spec: TableSpec
    period: str
    revision: int
    table_sha256: str  # SHA-256 of the release's table file the rows come from
    created_at: str  # ISO 8601, UTC
    provider_zh: str = PROVIDER_ZH
    provider_en: str = PROVIDER_EN
    embargo_zh: str = ""  # 未公布，禁止外流至 … for a file from a revision not yet public
    embargo_en: str = ""
    # the cells' marks, r revised / p provisional (``exports.marks.with_marks``): the table's
    # keys and one mark column per measure; None when no cell has one
    marks: pl.DataFrame | None = field(default=None, compare=False, repr=False)

    @property
    def created_taipei(self) -> tuple[str, str]:
        """The creation time as people read it (zh ROC, English ISO +08:00), to the second."""
        moment = datetime.fromisoformat(self.created_at)
        return format_time(moment, "zh", seconds=True), format_time(moment, "en", seconds=True)

    @property
    def period_roc(self) -> str:
        """The period as people read it (``114年3月``)."""
        return Period.parse(self.period).roc_label

    def describe(self) -> dict[str, str]:
        """Flat key → text pairs (zh-TW and English) for formats with a metadata block."""
        spec = self.spec
        return {
            "table": spec.table,
            "table_code": spec.code,
            "title_zh": spec.title_zh,
            "title_en": spec.title_en,
            "period": self.period,
            "period_roc": self.period_roc,
            "revision": str(self.revision),
            "table_sha256": self.table_sha256,
            "provider_zh": self.provider_zh,
            "provider_en": self.provider_en,
            "source_zh": "戶籍登記資料",
            "source_en": "Household registration records",
            "units_zh": "; ".join(f"{c.zh}: {c.unit_zh}" for c in spec.columns if c.unit_zh),
            "units_en": "; ".join(f"{c.en}: {c.unit_en}" for c in spec.columns if c.unit_en),
            "footnotes_zh": " ".join(spec.footnotes_zh),
            "footnotes_en": " ".join(spec.footnotes_en),
            "created_at": self.created_at,
            "created_taipei_zh": self.created_taipei[0],
            "created_taipei_en": self.created_taipei[1],
            "software": SOFTWARE,
            **({"embargo_zh": self.embargo_zh, "embargo_en": self.embargo_en}
               if self.embargo_zh else {}),
        }

    def to_json(self) -> str:
        """The description as JSON text."""
        return json.dumps(self.describe(), ensure_ascii=False, indent=2)


def with_embargo(meta: ExportMeta, zh: str, en: str) -> ExportMeta:
    """The metadata of a file made from a revision that is not public yet: the marking
    leads both titles (every format shows a title, and a truncated label keeps its start)
    and the footnotes, and has keys of its own in the metadata."""
    spec = replace(meta.spec, title_zh=f"【{zh}】{meta.spec.title_zh}",
                   title_en=f"[{en}] {meta.spec.title_en}",
                   footnotes_zh=(f"{zh}。", *meta.spec.footnotes_zh),
                   footnotes_en=(f"{en}.", *meta.spec.footnotes_en))
    return replace(meta, spec=spec, embargo_zh=zh, embargo_en=en)


OUTSIDE_NAME = "戶籍以外"  # 99999 in migration_flows: abroad, first registration, de-registration


def labelled(frame: pl.DataFrame, areas: pl.DataFrame) -> pl.DataFrame:
    """The table with an ``area_name`` column after ``area_code`` (names from the release)."""
    named = frame.join(areas.select("area_level", "area_code", "area_name"),
                       on=["area_level", "area_code"], how="left", maintain_order="left")
    # CONTRACT §8: migration_flows' origin 99999 is outside the register, no area
    named = named.with_columns(pl.when(pl.col("area_code") == OUTSIDE_CODE)
                               .then(pl.lit(OUTSIDE_NAME)).otherwise(pl.col("area_name"))
                               .alias("area_name"))
    columns = list(frame.columns)
    columns.insert(columns.index("area_code") + 1, "area_name")
    return named.select(columns)


def load_for_export(release_dir: Path, table: str, now: datetime | None = None) -> tuple[pl.DataFrame, ExportMeta]:
    """A release table with area names, and its metadata.

    Raises
    ------
    stats.catalogue.UnknownTable
        For a table not in the catalogue.
    """
    spec = table_spec(table)
    manifest = read_manifest(release_dir)
    entry = next(t for t in manifest["tables"] if t["table"] == table)
    frame = labelled(read_table(release_dir, table), read_areas(release_dir))
    meta = ExportMeta(
        spec=spec,
        period=manifest["period"],
        revision=int(manifest["revision"]),
        table_sha256=entry["sha256"],
        created_at=(now or datetime.now(UTC)).isoformat(timespec="seconds"),
    )
    return frame, meta
