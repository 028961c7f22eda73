"""Problems found in an input, and the one exception that carries all of them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input: where it is, what value, which rule it breaks.

    ``row`` counts data rows from 1 (the header is not a row); None for whole-file problems.
    """

    file: str
    row: int | None
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f": row {self.row}"
        if self.column is not None:
            where += f": column {self.column}"
        value = f": value {self.value!r}" if self.value is not None else ""
        return f"{where}{value}: {self.rule}"


class ValidationError(ValueError):
    """An extract was refused; ``problems`` lists everything found, ``counts`` the totals per rule."""

    def __init__(self, problems: list[Problem], counts: Counter[tuple[str, str]] | None = None):
        self.problems = sorted(problems, key=lambda p: (p.file, p.row or 0, p.column or "", p.rule))
        self.counts = counts or Counter((p.file, p.rule) for p in problems)
        total = sum(self.counts.values())
        super().__init__(f"{total} problem{'s' if total != 1 else ''} in the extract")

    def report(self, limit: int | None = None) -> str:
        """Human-readable listing: every problem (up to ``limit``), then totals per rule."""
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [str(p) for p in shown]
        if len(shown) < len(self.problems):
            lines.append(f"... {len(self.problems) - len(shown)} more listed problems not shown")
        lines.append(f"{self}:")
        for (file, rule), n in sorted(self.counts.items()):
            lines.append(f"  {n:>9,}  {file}: {rule}")
        return "\n".join(lines)
