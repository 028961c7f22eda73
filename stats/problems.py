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

    @property
    def total(self) -> int:
        """Every problem found, listed or only counted."""
        return sum(self.counts.values())

    def report(self, limit: int | None = None, problems_file: str | None = None) -> str:
        """Human-readable listing: the problems (up to ``limit``), the totals per rule, and
        last the total with where to find the ones not shown (``--problems FILE``)."""
        shown = self.problems if limit is None else self.problems[:limit]
        lines = [str(p) for p in shown]
        lines.append("Problems by rule:")
        for (file, rule), n in sorted(self.counts.items()):
            lines.append(f"  {n:>9,}  {file}: {rule}")
        lines.append(self.footer(len(shown), problems_file))
        return "\n".join(lines)

    def footer(self, shown: int, problems_file: str | None = None) -> str:
        """``1,234 problems in the extract; nothing was written. 500 shown above, 734 more:
        add --problems FILE …`` — the last line a statistician reads."""
        total, listed = self.total, len(self.problems)
        text = f"{total:,} problem{'s' if total != 1 else ''} in the extract; nothing was written."
        if problems_file is not None:
            where = (f"all {listed:,} are listed in {problems_file}" if listed == total else
                     f"the first {listed:,} are listed in {problems_file} (rows listed per "
                     "file and rule are capped; the counts above cover all)")
            return f"{text} {shown:,} shown above; {where}."
        if shown >= total:
            return f"{text} All shown above."
        return (f"{text} {shown:,} shown above, {total - shown:,} more: add --problems FILE "
                "to write every listed problem as CSV.")
