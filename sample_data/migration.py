"""Moves inside the register: who moves, with whom, and where to.

A mover starts either alone (leaving their household to set up a new one, 分戶) or with
the whole household. The kind of move decides the destination area: the same village
(an address change), another village of the township, another township of the county,
or another county, chosen by attraction. Inside the area a village is chosen in
proportion to its population, so big villages receive more movers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sample_data import demography as demo
from sample_data.calibration import pull_for
from sample_data.events import MOVE, Calendar, EventBatch, make_events
from sample_data.geography import Geography, pick_in_ranges
from sample_data.population import FIRST_HOUSEHOLD_ID, Population

if TYPE_CHECKING:
    from sample_data.simulation import Counters

SAME_VILLAGE, SAME_TOWNSHIP, SAME_COUNTY, OTHER_COUNTY = range(4)
NEW_VILLAGE_PULL = 0.5  # a newly created village attracts like half an average neighbour
# Of the persons moving alone, the share who join a household at the destination (moving in
# with a partner or relatives) instead of registering a new one: calibrated so that
# households grow about 2 % a year while the population shrinks slowly, as household size
# falls in MOI's figures (2.63 persons in 2021-03, 2.47 at the end of 2024).
LONE_MOVER_JOINS = 0.5


@dataclass(frozen=True)
class Moves:
    """Domestic moves of this month, one row per moving person."""

    person: np.ndarray  # row in the previous snapshot
    destination: np.ndarray  # village index
    household: np.ndarray  # household number at the destination
    kind: np.ndarray  # index into demography.MOVE_KINDS
    registration: np.ndarray
    occurrence: np.ndarray

    def events(self, pop: Population) -> EventBatch:
        """The MOVE events, origin = the village in the previous snapshot."""
        p = self.person
        return make_events(MOVE, self.registration, self.occurrence, pop.pid[p], pop.sex[p],
                           pop.birth[p], origin=pop.village[p], destination=self.destination,
                           move_kind=self.kind)


def village_weights(pop: Population, geo: Geography, month_index: int,
                    first_month_index: int) -> np.ndarray:
    """Pull of each village this month: its residents, zero when not valid.

    Villages created after the first snapshot start empty and fill only through moves;
    they pull like half an average village of their township.
    """
    residents = np.bincount(pop.village, minlength=geo.size).astype(np.float64)
    valid = geo.valid(month_index)
    towns = len(geo.town_start) - 1
    mean = np.bincount(geo.town, weights=residents, minlength=towns) / np.maximum(
        np.bincount(geo.town, weights=valid, minlength=towns), 1
    )
    weight = np.where(valid, residents + 0.5, 0.0)  # + 0.5: tiny samples leave villages empty
    new = valid & (geo.valid_from > first_month_index)
    weight[new] = np.maximum(weight[new], NEW_VILLAGE_PULL * mean[geo.town[new]])
    return weight


def destinations(rng: np.random.Generator, geo: Geography, weight: np.ndarray,
                 origin: np.ndarray, kind: np.ndarray, group: np.ndarray | None = None,
                 net: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Destination village per move; a kind impossible here widens to the next one.

    ``group`` is the number of persons each move carries and ``net`` the wanted net
    migration per county this month: the counties' pulls are then solved for this month's
    actual movers between counties (who leave where the young and mobile live), so each
    county gains or loses as MOI's figures say; without them the geography's pulls apply.
    """
    cumulative = np.r_[0.0, np.cumsum(weight)]
    kind = kind.copy()
    counties = len(geo.county_start) - 1
    if net is not None and group is not None:
        # moves between counties as drawn (those widened from failed nearer moves are few)
        between = kind == OTHER_COUNTY
        out = np.bincount(geo.county[origin[between]], weights=group[between],
                          minlength=counties)
        county_weight = np.bincount(geo.county, weights=weight, minlength=counties)
        pull = pull_for(county_weight, out, net)
    else:
        pull = geo.attraction()
    pulled = weight * pull[geo.county]
    cumulative_pulled = np.r_[0.0, np.cumsum(pulled)]
    dest = np.where(kind == SAME_VILLAGE, origin, -1).astype(np.int64)
    town, county = geo.town[origin], geo.county[origin]
    t0, t1 = geo.town_start[town], geo.town_start[town + 1]
    c0, c1 = geo.county_start[county], geo.county_start[county + 1]
    steps = (
        (SAME_TOWNSHIP, cumulative, t0, t1, origin, origin + 1),
        (SAME_COUNTY, cumulative, c0, c1, t0, t1),
        (OTHER_COUNTY, cumulative_pulled, np.zeros_like(c0), np.full_like(c1, geo.size), c0, c1),
    )
    for step, cum, lo, hi, ex_lo, ex_hi in steps:
        todo = np.flatnonzero(kind == step)
        pick = pick_in_ranges(rng, cum, lo[todo], hi[todo], ex_lo[todo], ex_hi[todo])
        dest[todo] = pick
        failed = todo[pick < 0]
        kind[failed] = step + 1 if step < OTHER_COUNTY else SAME_VILLAGE
    left = kind == SAME_VILLAGE
    dest[left] = origin[left]
    return dest.astype(np.int16), kind


def random_resident(rng: np.random.Generator, village: np.ndarray,
                    where: np.ndarray) -> np.ndarray:
    """For each village index in ``where``, the row of a random resident there (-1: none)."""
    if not len(where):
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(village, kind="stable")
    count = np.bincount(village, minlength=int(where.max()) + 1)
    start = np.r_[0, np.cumsum(count)[:-1]]
    pick = start[where] + (rng.random(len(where)) * count[where]).astype(np.int64)
    return np.where(count[where] > 0, order[np.minimum(pick, len(order) - 1)], -1)


def draw_moves(
    rng: np.random.Generator,
    pop: Population,
    geo: Geography,
    starting: np.ndarray,
    busy: np.ndarray,
    month_index: int,
    first_month_index: int,
    counters: Counters,
    calendar: Calendar,
    net: np.ndarray | None = None,
) -> Moves:
    """The month's domestic moves, started by the persons ``starting``.

    Parameters
    ----------
    rng
        Random generator.
    pop
        The previous snapshot (re-coded).
    geo
        The villages.
    starting
        Rows of the persons who start a move.
    busy
        Persons who die or leave the register this month: they do not move along.
    month_index, first_month_index
        This month and the first snapshot's month.
    counters
        Household numbers for new households.
    calendar
        The month's days.
    net
        Wanted net migration per county this month (persons), or None for fixed pulls.

    Returns
    -------
    Moves
        One row per moving person.
    """
    shares = np.array([demo.MOVES_PER_MONTH[k] for k in demo.MOVE_KINDS[:4]], dtype=float)
    start_kind = rng.choice(4, size=len(starting), p=shares / shares.sum())
    whole = rng.random(len(starting)) < demo.WHOLE_HOUSEHOLD_SHARE
    # households moving together: one leader each, the first initiator found
    _, first = np.unique(pop.hh[starting[whole]], return_index=True)
    leaders = starting[whole][first]
    leader_kind = start_kind[whole][first]
    group_of_hh = np.zeros(counters.next_hh - FIRST_HOUSEHOLD_ID + 1, dtype=np.int32)
    group_of_hh[pop.hh[leaders] - FIRST_HOUSEHOLD_ID] = np.arange(1, len(leaders) + 1)
    member_group = group_of_hh[pop.hh - FIRST_HOUSEHOLD_ID]
    members = np.flatnonzero((member_group > 0) & ~busy)
    # lone movers whose household is not moving anyway
    alone = starting[~whole]
    alone_kind = start_kind[~whole]
    solo = group_of_hh[pop.hh[alone] - FIRST_HOUSEHOLD_ID] == 0
    alone, alone_kind = alone[solo], alone_kind[solo]

    origin = np.r_[pop.village[leaders], pop.village[alone]].astype(np.int64)
    weight = village_weights(pop, geo, month_index, first_month_index)
    group = np.r_[np.bincount(member_group[members], minlength=len(leaders) + 1)[1:],
                  np.ones(len(alone))].astype(np.float64)
    dest, kind = destinations(rng, geo, weight, origin, np.r_[leader_kind, alone_kind],
                              group, net)
    # a new household at the destination, except for a family's address change in its village
    joining = np.r_[np.zeros(len(leaders), bool), rng.random(len(alone)) < LONE_MOVER_JOINS]
    host = np.full(len(origin), -1, dtype=np.int64)
    host[joining] = random_resident(rng, pop.village, dest[joining].astype(np.int64))
    joining &= host >= 0
    new_household = np.r_[kind[: len(leaders)] != SAME_VILLAGE, np.ones(len(alone), bool)]
    new_household &= ~joining
    household = np.r_[pop.hh[leaders], pop.hh[alone]].astype(np.int32)
    household[joining] = pop.hh[host[joining]]
    household[new_household] = counters.households(int(new_household.sum()))
    registration = calendar.registrations(rng, len(origin))
    lag = demo.draw_lags(rng, len(origin), "moves")

    group = np.r_[member_group[members] - 1, len(leaders) + np.arange(len(alone))]
    person = np.r_[members, alone]
    return Moves(
        person=person,
        destination=dest[group],
        household=household[group],
        kind=kind[group].astype(np.int8),
        registration=registration[group],
        occurrence=np.maximum(registration[group] - lag[group], pop.birth[person]),
    )
