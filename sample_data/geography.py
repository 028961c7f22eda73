"""Villages as integer indexes: townships and counties as contiguous ranges, validity by month.

Village codes sort so that a township's (first 8 digits) and a county's (first 5) villages
are neighbours; every area above village level is then a range of village indexes, and
choosing a village inside an area is one ``searchsorted`` on cumulative weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import demography as demo
from stats.codes import CodeTable

_OPEN_START = -(2**31)
_OPEN_END = 2**31 - 1


@dataclass(frozen=True)
class Geography:
    """The villages of a code table, sorted by code, with their areas and validity."""

    codes: np.ndarray  # village codes (str), sorted
    town: np.ndarray  # township index of each village
    county: np.ndarray  # county index of each village
    town_start: np.ndarray  # first village index of each township (+ a final end)
    county_start: np.ndarray  # first village index of each county (+ a final end)
    county_codes: list[str]
    valid_from: np.ndarray  # month index, or a very small number when open
    valid_to: np.ndarray  # month index, or a very large number when open
    county_pull: np.ndarray | None = None  # calibrated pull per county (None: the constants)

    @classmethod
    def from_codes(cls, codes: CodeTable) -> Geography:
        """Index the villages of a code table."""
        table = (
            codes.villages.unique("village_code", keep="first", maintain_order=True)
            .sort("village_code")
        )
        village = table["village_code"].to_numpy().astype(str)
        if len(village) > np.iinfo(np.int16).max:  # villages are int16 indexes
            raise ValueError(f"code table has {len(village)} villages; at most 32767 supported")
        town_code = np.array([c[:8] for c in village])
        county_code = np.array([c[:5] for c in village])
        town_new = np.r_[True, town_code[1:] != town_code[:-1]]
        county_new = np.r_[True, county_code[1:] != county_code[:-1]]
        return cls(
            codes=village,
            town=(np.cumsum(town_new) - 1).astype(np.int32),
            county=(np.cumsum(county_new) - 1).astype(np.int32),
            town_start=np.r_[np.flatnonzero(town_new), len(village)],
            county_start=np.r_[np.flatnonzero(county_new), len(village)],
            county_codes=[str(c) for c in county_code[county_new]],
            valid_from=table["valid_from"].fill_null(_OPEN_START).to_numpy().astype(np.int64),
            valid_to=table["valid_to"].fill_null(_OPEN_END).to_numpy().astype(np.int64),
        )

    @property
    def size(self) -> int:
        """Number of village codes."""
        return len(self.codes)

    def valid(self, month_index: int) -> np.ndarray:
        """Boolean mask of the villages valid in a month."""
        return (self.valid_from <= month_index) & (self.valid_to >= month_index)

    def initial_sizes(self, rng: np.random.Generator, total: int, month_index: int) -> np.ndarray:
        """Residents per village: real county sizes, lognormal townships and villages."""
        valid = self.valid(month_index)
        county_weight = np.array(
            [demo.COUNTY_POPULATION_2024.get(c, demo.DEFAULT_COUNTY_POPULATION)
             for c in self.county_codes]
        )
        county_has = np.bincount(self.county[valid], minlength=len(self.county_codes)) > 0
        county_weight = np.where(county_has, county_weight, 0.0)
        county_total = _largest_remainder(total, county_weight)
        # A township's villages share a size level (urban districts have big villages).
        town_level = rng.lognormal(0.0, demo.TOWN_SIZE_SIGMA, len(self.town_start) - 1)
        weight = town_level[self.town] * rng.lognormal(0.0, demo.VILLAGE_SIZE_SIGMA, self.size)
        weight = np.where(valid, weight, 0.0)
        sizes = np.zeros(self.size, dtype=np.int64)
        for c in range(len(self.county_codes)):
            a, b = self.county_start[c], self.county_start[c + 1]
            w = weight[a:b]
            if county_total[c] > 0 and w.sum() > 0:
                sizes[a:b] = rng.multinomial(county_total[c], w / w.sum())
        return sizes

    def indigenous_shares(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Per village: the share of indigenous residents and the lowland part of them.

        Indigenous people live concentrated: a Beta with a small concentration puts most
        of a county's indigenous population into few villages, at the county's mean.
        """
        share = np.array([demo.INDIGENOUS_SHARE.get(c, demo.DEFAULT_INDIGENOUS_SHARE)
                          for c in self.county_codes])[self.county]
        lowland = np.array([demo.LOWLAND_FRACTION.get(c, demo.DEFAULT_LOWLAND_FRACTION)
                            for c in self.county_codes])[self.county]
        concentration = 3.0
        p = rng.beta(share * concentration, (1 - share) * concentration)
        q = rng.beta(lowland * 2.0, (1 - lowland) * 2.0)
        return p, q

    def attraction(self) -> np.ndarray:
        """Per county: weight of being chosen as destination of a move between counties."""
        if self.county_pull is not None:
            return self.county_pull
        return np.array([demo.COUNTY_ATTRACTION.get(c, 1.0) for c in self.county_codes])

    def recoding(self, month_index: int) -> dict[int, int]:
        """Villages valid the month before but not in this month -> their successor.

        The successor is in the same township: a village that starts this month if there
        is one (a split or merger), else the valid neighbour with the nearest code.
        """
        before, now = self.valid(month_index - 1), self.valid(month_index)
        retired = np.flatnonzero(before & ~now)
        mapping: dict[int, int] = {}
        for rank, v in enumerate(retired):
            for area, starts in ((self.town, self.town_start), (self.county, self.county_start)):
                a, b = starts[area[v]], starts[area[v] + 1]
                candidates = np.flatnonzero(now[a:b]) + a
                if len(candidates):
                    break
            else:
                candidates = np.flatnonzero(now)
            fresh = candidates[self.valid_from[candidates] == month_index]
            if len(fresh):
                mapping[int(v)] = int(fresh[rank % len(fresh)])
            else:
                mapping[int(v)] = int(candidates[np.argmin(np.abs(candidates - v))])
        return mapping


def _largest_remainder(total: int, weight: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weight`` that sum exactly to ``total``."""
    if weight.sum() <= 0:
        return np.zeros(len(weight), dtype=np.int64)
    exact = total * weight / weight.sum()
    out = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - out), kind="stable")
    out[order[: total - out.sum()]] += 1
    return out


def pick_in_ranges(
    rng: np.random.Generator,
    cumulative: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    exclude_start: np.ndarray | None = None,
    exclude_end: np.ndarray | None = None,
) -> np.ndarray:
    """For each request, a weighted village index in [start, end) outside the excluded range.

    ``cumulative`` is the running sum of village weights with a leading 0; the excluded
    range lies inside [start, end) or is empty. Returns -1 where no weight is left.
    """
    n = len(start)
    if exclude_start is None or exclude_end is None:
        exclude_start = exclude_end = start
    below = cumulative[exclude_start] - cumulative[start]
    above = cumulative[end] - cumulative[exclude_end]
    r = rng.random(n) * (below + above)
    # positions in the complement of the excluded range, mapped back to the full axis
    target = np.where(r < below, cumulative[start] + r, cumulative[exclude_end] + (r - below))
    pick = np.searchsorted(cumulative, target, side="right") - 1
    inside = np.where(r < below, np.minimum(pick, exclude_start - 1), np.maximum(pick, exclude_end))
    pick = np.clip(inside, start, end - 1)
    # float ties can land on a weightless village: step to the nearest one with weight
    empty = cumulative[pick + 1] <= cumulative[pick]
    if empty.any():
        nxt = np.searchsorted(cumulative, cumulative[pick[empty]], side="right") - 1
        pick[empty] = np.clip(nxt, start[empty], end[empty] - 1)
    ok = ((below + above) > 0) & (cumulative[pick + 1] > cumulative[pick])
    ok &= ~((pick >= exclude_start) & (pick < exclude_end))
    return np.where(ok, pick, -1)
