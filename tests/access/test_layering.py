"""Dependencies point one way: stats <- exports <- access; nothing below imports access."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["stats", "exports"])
def test_lower_layers_do_not_import_access(package: str) -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*.py")
        if re.search(r"^\s*(from|import)\s+access\b", p.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []


def test_access_does_not_import_the_apps() -> None:
    pattern = re.compile(r"^\s*(from|import)\s+(dashboards|popstats)\b", re.M)
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "access").rglob("*.py")
        if pattern.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []
