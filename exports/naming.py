"""File names for exported tables (regulation point 7: MOI defines file naming).

    <provider>_<table code>_<period>_<level>_r<revision>.<encoding>.<suffix>
    MOI_POP02_2025-03_all_r1.utf-8-sig.csv       (granted by 內政部)
    63000_POP02_2025-03_all_r1.utf-8-sig.csv     (granted by 臺北市政府)

``provider`` is the code of the providing agency (point 6): ``MOI`` or the county code of
the government whose grant delivers the file (``access.grants.providing_code``), or of the
provider a staff member belongs to.

Every part is validated before use, so a name can never carry a path or odd characters.
"""

from __future__ import annotations

import re

from stats.catalogue import table_spec
from stats.periods import Period

_PROVIDER = re.compile(r"^[A-Z0-9]{2,8}$")
LEVEL_PARTS = ("all", "national", "county", "township", "village")


def export_file_name(provider: str, table: str, period: str, level: str, revision: int,
                     suffix: str, encoding: str | None = None) -> str:
    """The conventional file name; raises ValueError for any part outside its allowed form."""
    if not _PROVIDER.match(provider):
        raise ValueError(f"provider code {provider!r} must be 2-8 capital letters or digits")
    if level not in LEVEL_PARTS:
        raise ValueError(f"level {level!r}; expected one of {', '.join(LEVEL_PARTS)}")
    if not isinstance(revision, int) or revision < 1:
        raise ValueError(f"revision {revision!r} must be a positive integer")
    if not re.fullmatch(r"[a-z]{2,8}", suffix):
        raise ValueError(f"suffix {suffix!r} must be 2-8 lowercase letters")
    code = table_spec(table).code
    period_text = str(Period.parse(period))
    middle = f".{encoding}" if encoding else ""
    if encoding and not re.fullmatch(r"[a-z0-9-]{3,12}", encoding):
        raise ValueError(f"encoding {encoding!r} is not a valid name part")
    return f"{provider}_{code}_{period_text}_{level}_r{revision}{middle}.{suffix}"
