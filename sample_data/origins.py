"""CONTRACT §8 (v2) attributes of the synthetic register: each indigenous resident's people
(``tribe``), the mother's original nationality on births and the spouses' on marriages.

The figures come from ``stats/data/register_v2.json`` (rounded MOI figures, provenance in
``stats/data/PROVENANCE.md``). Every draw here takes its own random generator, never one of
the v1 stages', and a v1 extract uses none of this, so it is byte for byte what it was before
v2 existed. A v2 extract also draws its mothers by the calibrated ages
(``fertility_weights``), so its births are not those of the v1 extract of the same seed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sample_data import demography as demo
from stats.data import REGISTER_V2

ROC = 1  # 本國籍
RAKING_ROUNDS = 200


@dataclass(frozen=True)
class Origins:
    """The v2 calibration lined up with the counties of a geography."""

    tribe_codes: np.ndarray  # int8, the 17 codes (1…16, 99)
    tribe_cumulative: np.ndarray  # float32 (counties, 3, tribes): by county and indigenous 0/1/2
    mother_codes: np.ndarray  # int8
    mother_share: np.ndarray  # float64, sums to 1
    foreign_share: float  # of marriages, one spouse of original nationality other than ROC
    foreign_female_share: float  # of those spouses, the women
    spouse_codes: np.ndarray  # int8, the non-ROC codes of spouses
    spouse_mix: dict[int, np.ndarray]  # by sex (1, 2): shares of spouse_codes
    fertility: np.ndarray  # float64 per cell (sex x age): relative chance of giving birth

    @classmethod
    def for_counties(cls, county_codes: list[str], indigenous: np.ndarray) -> Origins:
        """The calibration for counties (codes) holding ``indigenous[county, status]``
        residents (status 1 lowland 平地, 2 highland 山地; column 0 unused).

        The mix of peoples of each county and status starts from the county's weights
        (where the peoples live) times each people's lowland or highland share (the Amis
        are mostly lowland, the Paiwan mostly highland), and is raked, with the residents
        as they are, until the nation holds each people in MOI's proportion.
        """
        data = _data()
        tribes, by_county = data["tribes"], data["tribe_by_county"]
        seed = np.array([by_county.get(c, by_county["default"]) for c in county_codes],
                        dtype=np.float64)
        lowland = np.asarray(tribes["lowland_share"], dtype=np.float64)
        split = np.stack([np.zeros_like(lowland), lowland, 1.0 - lowland])  # status x tribe
        rows = (seed[:, None, :] * split[None, :, :]).reshape(-1, len(lowland))
        share = rake(rows, np.asarray(indigenous, dtype=np.float64).ravel(),
                     np.asarray(tribes["national_share"], dtype=np.float64))
        share = share.reshape(len(county_codes), 3, len(lowland))
        cumulative = np.cumsum(share, axis=2)
        cumulative[..., -1] = 1.0  # rounding never leaves a draw without a people
        marriage = data["marriage"]
        mother = data["mother_nationality"]
        mother_share = np.asarray(mother["share"], dtype=np.float64)
        return cls(
            tribe_codes=np.asarray(tribes["codes"], dtype=np.int8),
            tribe_cumulative=cumulative.astype(np.float32),
            mother_codes=np.asarray(mother["codes"], dtype=np.int8),
            mother_share=mother_share / mother_share.sum(),
            foreign_share=float(marriage["foreign_share"]),
            foreign_female_share=float(marriage["foreign_spouse_female_share"]),
            spouse_codes=np.asarray(marriage["codes"], dtype=np.int8),
            spouse_mix={sex: _shares(marriage[key])
                        for sex, key in ((1, "male_mix"), (2, "female_mix"))},
            fertility=fertility_weights(data["fertility"]),
        )

    def tribes(self, rng: np.random.Generator, indigenous: np.ndarray,
               county: np.ndarray) -> np.ndarray:
        """A people for each resident: 0 for the non-indigenous, else drawn from the mix of
        their county and status (lowland or highland)."""
        out = np.zeros(len(indigenous), dtype=np.int8)
        rows = np.flatnonzero(indigenous > 0)
        cumulative = self.tribe_cumulative[county[rows], indigenous[rows]]
        u = rng.random(len(rows), dtype=np.float32)
        pick = np.minimum((u[:, None] >= cumulative).sum(axis=1), len(self.tribe_codes) - 1)
        out[rows] = self.tribe_codes[pick]
        return out

    def mothers(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Original nationality of the mothers of ``n`` births."""
        return self.mother_codes[demo.draw_categories(rng, self.mother_share, n)]

    def spouses(self, rng: np.random.Generator, sex: np.ndarray,
                partner_sex: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Original nationalities of spouse 1 and spouse 2 of marriages.

        One marriage in ``foreign_share`` has a spouse from abroad; in an opposite-sex
        couple it is the woman in ``foreign_female_share`` of them, in a same-sex couple
        either spouse. That spouse's nationality follows the mix of their sex; the other
        is ROC (marriages of two foreigners are too rare to model).
        """
        n = len(sex)
        foreign = rng.random(n) < self.foreign_share
        opposite = sex != partner_sex
        wife_second = partner_sex == 2
        u = rng.random(n)
        second = np.where(opposite, np.where(wife_second, u < self.foreign_female_share,
                                             u >= self.foreign_female_share), u < 0.5)
        who = np.where(second, partner_sex, sex)  # the foreign spouse's sex
        drawn = {s: self.spouse_codes[demo.draw_categories(rng, self.spouse_mix[s], n)]
                 for s in (1, 2)}
        code = np.where(who == 1, drawn[1], drawn[2]).astype(np.int8)
        nationality = np.where(foreign & ~second, code, ROC).astype(np.int8)
        partner = np.where(foreign & second, code, ROC).astype(np.int8)
        return nationality, partner


def fertility_weights(fertility: dict) -> np.ndarray:
    """Per cell (sex x single age), a woman's relative chance of giving birth such that
    births follow MOI's age-specific rates although mothers are drawn mostly among the
    married (``demography.FERTILITY_BY_STATUS``): each age's rate divided by the mean
    marital factor of women of that age, times a fitted adjustment for the villages'
    fixed births. (v1's weights ignored the marital factor, so its mothers were about two
    years too old: mean age at birth 35.)"""
    edges = np.asarray(fertility["age_from"])
    rate = np.asarray(fertility["per_1000"], dtype=np.float64) * np.asarray(
        fertility["draw_adjustment"], dtype=np.float64)
    by_age = np.where(edges[0] <= demo.AGES,
                      rate[np.clip(np.searchsorted(edges, demo.AGES, side="right") - 1, 0,
                                   len(rate) - 1)], 0.0)
    women = demo.marital_cumulative()[demo.MAX_AGE + 1:]  # cumulative: never, married, divorced
    shares = np.diff(np.c_[np.zeros(len(women)), women, np.ones(len(women))], axis=1)
    factor = shares @ demo.FERTILITY_BY_STATUS[1:].astype(np.float64)
    women_weight = np.divide(by_age, factor, out=np.zeros_like(by_age), where=factor > 0)
    return np.concatenate([np.zeros(demo.MAX_AGE + 1), women_weight])


def rake(seed: np.ndarray, rows: np.ndarray, columns: np.ndarray,
         rounds: int = RAKING_ROUNDS) -> np.ndarray:
    """Per row, shares over the columns (each row sums to 1, or 0 for an empty row) such
    that the rows, weighted by ``rows``, hold the columns in the proportions ``columns``:
    iterative proportional fitting of ``seed`` to the two margins."""
    target = columns / columns.sum() * rows.sum()
    table = seed * (rows / np.maximum(seed.sum(axis=1), 1e-12))[:, None]
    for _ in range(rounds):
        got = table.sum(axis=0)
        table *= np.divide(target, got, out=np.ones_like(got), where=got > 0)[None, :]
        got = table.sum(axis=1)
        table *= np.divide(rows, got, out=np.zeros_like(got), where=got > 0)[:, None]
    totals = table.sum(axis=1, keepdims=True)
    return np.divide(table, totals, out=np.zeros_like(table), where=totals > 0)


def _shares(weights: list[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float64)
    return array / array.sum()


@lru_cache(maxsize=1)
def _data() -> dict:
    return json.loads(REGISTER_V2.read_text(encoding="utf-8"))
