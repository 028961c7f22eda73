"""Reference data shipped with popstats: the official area code table, the calibration of
the synthetic register and the area boundaries, each derived from MOI open data by
``stats/data/derive.py`` (provenance and licences in ``PROVENANCE.md``)."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parent
AREA_CODES = DATA / "area_codes.parquet"
CALIBRATION = DATA / "calibration.parquet"
CALIBRATION_MONTHLY = DATA / "calibration_monthly.parquet"
REGISTER_V2 = DATA / "register_v2.json"  # the v2 (CONTRACT §8) columns of the sample
BOUNDARIES = DATA / "boundaries"
