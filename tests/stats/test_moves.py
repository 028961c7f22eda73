"""The moves' ends as village indices (stats.moves): each index names the end's own code,
whether the villages are given (the period's) or found from the ends, and a code missing
from the given ones is not taken for "outside"."""

from __future__ import annotations

import polars as pl

from stats.moves import moves_of

ENDS = [("63000010001", "64000010001", 1), (None, "63000010002", 2),
        ("64000010001", None, 1), ("63000010002", "63000010001", 2)]
EVENTS = pl.DataFrame(
    {"event_type": ["MOVE"] * len(ENDS) + ["BIRTH"],
     "from_village_code": [e[0] for e in ENDS] + [None],
     "to_village_code": [e[1] for e in ENDS] + [None],
     "sex": [e[2] for e in ENDS] + [1]},
    schema={"event_type": pl.String, "from_village_code": pl.String,
            "to_village_code": pl.String, "sex": pl.Int8}).lazy()


def _decoded(villages: pl.Series, index) -> list[str | None]:
    return [None if i < 0 else villages[int(i)] for i in index]


def test_each_end_indexes_its_own_code() -> None:
    given = pl.Series(["63000010001", "63000010002", "63000010003", "64000010001"])
    for villages in (None, given):
        moves = moves_of(EVENTS, villages)
        assert _decoded(moves.villages, moves.origin) == [e[0] for e in ENDS]
        assert _decoded(moves.villages, moves.destination) == [e[1] for e in ENDS]
        assert moves.sex.tolist() == [e[2] for e in ENDS]
    assert moves_of(EVENTS, given).villages.to_list() == given.to_list()
    assert moves_of(EVENTS).villages.to_list() == ["63000010001", "63000010002", "64000010001"]


def test_a_code_not_among_the_given_villages_is_not_outside() -> None:
    moves = moves_of(EVENTS, pl.Series(["63000010001", "63000010002"]))  # no 64000010001
    assert _decoded(moves.villages, moves.origin) == [e[0] for e in ENDS]
    assert _decoded(moves.villages, moves.destination) == [e[1] for e in ENDS]
