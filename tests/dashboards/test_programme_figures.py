"""The derived values of issue 14's pages by hand on tiny frames (pure functions, no app)."""

from __future__ import annotations

import polars as pl

from dashboards import programme_figures as pf


def test_foreign_spouse_share_leaves_unknown_out_of_both_parts():
    frame = pl.DataFrame({
        "period": ["2024"] * 5 + ["2025"],
        "area_code": ["00000"] * 5 + ["00000"],
        "sex": [1, 2, 1, 2, 2, 1],
        "nationality": [0, 1, 1, 2, 4, 0],
        "persons": [5, 20, 10, 6, 4, 3],
    })
    shares = dict(pf.foreign_spouse_share(frame).select("period", "foreign_spouse_share")
                  .iter_rows())
    # 2024: known = 20 + 10 + 6 + 4 = 40, non-ROC = 6 + 4 = 10 → 25 %; 2025: nobody known
    assert shares == {"2024": 25.0, "2025": None}


def test_net_migration_is_moves_in_minus_moves_out_with_outside_the_register():
    flows = pl.DataFrame({
        "area_code": ["63000", "64000", "99999", "63000", "64000", "99999"],
        "to_code": ["64000", "63000", "63000", "99999", "99999", "64000"],
        "moves": [3, 1, 2, 1, 0, 5],
    })
    net = dict(pf.net_migration(flows, ["63000", "64000", "65000"]).iter_rows())
    # 63000: in 1 + 2, out 3 + 1; 64000: in 3 + 5, out 1 + 0; 65000: no rows
    assert net == {"63000": -1, "64000": 7, "65000": 0}


def test_flow_matrix_cells_and_its_empty_diagonal():
    flows = pl.DataFrame({"area_code": ["63000", "64000"], "to_code": ["64000", "63000"],
                          "moves": [3, 1]})
    assert pf.flow_matrix(flows, ["63000", "64000"], ["63000", "64000", "99999"], "moves") \
        == [[None, 3, None], [1, None, None]]
    largest = pf.largest_flows(flows, "moves", 1)
    assert largest.rows() == [("63000", "64000", 3)]


def test_counties_in_moi_publication_order():
    codes = ["09007", "10002", "63000", "99999", "65000", "09020", "64000", "10020"]
    assert pf.publication_order(codes) == ["65000", "63000", "64000", "10002", "10020", "09020",
                                           "09007", "99999"]
