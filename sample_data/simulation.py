"""One month of the register: events drawn from the previous snapshot, and the next snapshot.

The next snapshot is the previous one, re-coded where villages were retired, minus the
persons who died or left the register, plus newborns and arrivals, with movers at their
destination and new marital statuses, plus the injected corrections. Every person has at
most one event that changes where they are counted, so the balancing equation holds for
every area exactly (up to the recodings and corrections, which the manifest lists).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sample_data import couples
from sample_data import demography as demo
from sample_data.calibration import Calibration
from sample_data.events import (
    BIRTH,
    DEATH,
    DIVORCE,
    MARRIAGE,
    MOVE,
    Calendar,
    EventBatch,
    concat_events,
    make_events,
)
from sample_data.geography import Geography
from sample_data.migration import draw_moves
from sample_data.origins import Origins
from sample_data.population import FIRST_HOUSEHOLD_ID, Population, empty_population

Entry = dict[str, str | int]  # a manifest entry: month, village_code, delta, ...


@dataclass
class Counters:
    """The next free person and household numbers."""

    next_pid: int
    next_hh: int

    def pids(self, n: int) -> np.ndarray:
        """``n`` new person numbers."""
        out = np.arange(self.next_pid, self.next_pid + n, dtype=np.int64)
        self.next_pid += n
        return out

    def households(self, n: int) -> np.ndarray:
        """``n`` new household numbers."""
        out = np.arange(self.next_hh, self.next_hh + n, dtype=np.int32)
        self.next_hh += n
        return out


@dataclass
class MonthResult:
    """What one simulated month produced."""

    population: Population
    events: EventBatch
    counts: dict[str, int]
    corrections: list[Entry] = field(default_factory=list)
    recodings: list[Entry] = field(default_factory=list)


def _per_cell(weight: np.ndarray, counts: np.ndarray, expected: float) -> np.ndarray:
    """Per-cell probabilities proportional to ``weight`` with ``expected`` events in total."""
    denominator = float((weight * counts).sum())
    if denominator <= 0:
        return np.zeros_like(weight)
    return np.minimum(weight * (expected / denominator), 1.0)


def recode(pop: Population, geo: Geography, month_index: int,
           label: str) -> tuple[Population, list[Entry]]:
    """Move the residents of villages retired this month to their successors (no event)."""
    mapping = geo.recoding(month_index)
    if not mapping:
        return pop, []
    before = np.bincount(pop.village, minlength=geo.size)
    remap = np.arange(geo.size, dtype=np.int16)
    for old, new in mapping.items():
        remap[old] = new
    entries: list[Entry] = []
    for old, new in sorted(mapping.items()):
        moved = int(before[old])
        if moved:
            entries.append({"month": label, "village_code": str(geo.codes[old]),
                            "delta": -moved, "to_village_code": str(geo.codes[new])})
            entries.append({"month": label, "village_code": str(geo.codes[new]),
                            "delta": moved, "from_village_code": str(geo.codes[old])})
    if not entries:
        return pop, []
    return pop.with_columns(village=remap[pop.village]), entries


def village_probability(cell_weight: np.ndarray, cells: np.ndarray, village: np.ndarray,
                        target: np.ndarray) -> np.ndarray:
    """Per person: a chance proportional to the weight of their cell, scaled in each village
    so that the village expects ``target[village]`` events (its MOI rate × its residents).
    The chances are tabled per (village, cell) once, so each person costs one lookup."""
    n_cells = len(cell_weight)
    index = village.astype(np.int32) * n_cells + cells
    counts = np.bincount(index, minlength=len(target) * n_cells).reshape(len(target), n_cells)
    total = counts @ cell_weight
    factor = np.divide(target, total, out=np.zeros(len(target)), where=total > 0)
    table = np.minimum(factor[:, None] * cell_weight[None, :], 1.0).astype(np.float32)
    return table.ravel()[index]


def _location_events(
    rng: np.random.Generator, pop: Population, cells: np.ndarray, season: int, scale: float,
    deaths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows of persons who die, who leave the register and who start a domestic move.

    ``deaths`` are the expected deaths per village (calibrated); a person's chance follows
    the age and sex of their cell within the village. One uniform draw per person decides
    between the three, so nobody has two of them. Movers may take their household along;
    fewer start so that the moved persons match the national monthly total.
    """
    counts = np.bincount(cells, minlength=demo.N_CELLS)
    household_size = np.bincount(pop.hh - FIRST_HOUSEHOLD_ID).astype(np.float64)
    person_weighted_size = float((household_size**2).sum() / max(len(pop), 1))
    move_season = demo.SEASON["moves"][season]
    domestic = sum(demo.MOVES_PER_MONTH[k] for k in demo.MOVE_KINDS[:4]) * scale * move_season
    initiators = domestic / (1 + demo.WHOLE_HOUSEHOLD_SHARE * (person_weighted_size - 1))
    p_leave = _per_cell(demo.emigration_weights(), counts,
                        demo.MOVES_PER_MONTH["to_abroad"] * scale * move_season)
    p_move = _per_cell(demo.move_weights(), counts, initiators)
    t1 = village_probability(demo.death_weights(), cells, pop.village, deaths)
    # the chance of any of the three, built in place (national scale: 23 M floats each)
    t3 = (p_leave + p_move).astype(np.float32)[cells]
    t3 += t1
    np.minimum(t3, np.float32(1.0), out=t3)
    u = rng.random(len(pop), dtype=np.float32)
    candidate = np.flatnonzero(u < t3)
    del t3
    uc = u[candidate]
    t1 = t1[candidate]
    t2 = t1 + p_leave.astype(np.float32)[cells[candidate]]
    return (candidate[uc < t1], candidate[(uc >= t1) & (uc < t2)], candidate[uc >= t2])


def _status_targets(calibration: Calibration, residents: np.ndarray,
                    season: int) -> dict[str, np.ndarray]:
    """Expected marriages, divorces (by kind of couple) and births per village this month."""
    marriages = calibration.targets("marriages", residents, season)
    divorces = calibration.targets("divorces", residents, season)
    same_m, same_v, male = (demo.SAME_SEX_MARRIAGE_SHARE, demo.SAME_SEX_DIVORCE_SHARE,
                            demo.SAME_SEX_MALE_SHARE)
    return {
        "marriage": marriages * (1 - same_m),
        "marriage_male": marriages * same_m * male,
        "marriage_female": marriages * same_m * (1 - male),
        "divorce": divorces * (1 - same_v),
        "divorce_male": divorces * same_v * male,
        "divorce_female": divorces * same_v * (1 - male),
        "birth": calibration.targets("births", residents, season),
    }


def _births_kept(keys: np.ndarray, village: np.ndarray, gone: np.ndarray,
                 villages: int, fertility: np.ndarray | None = None) -> np.ndarray:
    """Per village: 1 / the share of its expected births that mothers staying put give.

    A mother drawn for a birth who dies, leaves or moves that month registers none here;
    asking each village for that much more keeps its births at its MOI rate.
    """
    fertility = couples.birth_weights(fertility)
    everyone = np.bincount(village, weights=fertility[keys], minlength=villages)
    rows = np.flatnonzero(gone)
    lost = np.bincount(village[rows], weights=fertility[keys[rows]], minlength=villages)
    kept = everyone - lost
    return np.divide(everyone, kept, out=np.ones(villages), where=kept > 0)


def simulate_month(
    pop: Population,
    geo: Geography,
    rng: np.random.Generator,
    *,
    month_index: int,
    label: str,
    calendar: Calendar,
    scale: float,
    counters: Counters,
    corrections: int,
    first_month_index: int,
    calibration: Calibration,
    origins: Origins | None = None,
    origins_rng: np.random.Generator | None = None,
) -> MonthResult:
    """Events registered in one month and the snapshot at its end.

    Parameters
    ----------
    pop
        The snapshot at the end of the previous month (not modified).
    geo
        The villages and their validity.
    rng
        Random generator of this month.
    month_index, label
        The month (``year * 12 + month - 1``) and its ``YYYY-MM`` label.
    calendar
        The month's days.
    scale
        Fraction of Taiwan's population simulated.
    counters
        Next free person and household numbers; advanced.
    corrections
        Number of register corrections to inject into this month's snapshot.
    first_month_index
        The month of the initial snapshot (villages valid later start empty).
    calibration
        MOI's per-village rates and seasons on the villages of ``geo``.
    origins, origins_rng
        For a v2 extract: the calibration of the mothers' ages and of the mothers' and
        spouses' original nationalities, and the generator the nationalities are drawn
        from (never ``rng``). ``None``: v1, whose events are what they were before v2.

    Returns
    -------
    MonthResult
        The new snapshot, the events, counts, corrections and recodings.
    """
    season = month_index % 12
    pop, recodings = recode(pop, geo, month_index, label)
    n = len(pop)
    age = np.maximum(demo.ages_at(pop.birth, calendar.first + 14), 0)
    cells = demo.cell_of(pop.sex, age)
    residents = np.bincount(pop.village, minlength=geo.size).astype(np.float64)
    dying, leaving, starting = _location_events(
        rng, pop, cells, season, scale, calibration.targets("deaths", residents, season))
    alive = np.ones(n, dtype=bool)
    alive[dying] = False
    alive[leaving] = False
    net = calibration.net_migration * scale * demo.SEASON["moves"][season]
    moves = draw_moves(rng, pop, geo, starting, ~alive, month_index, first_month_index,
                       counters, calendar, net)
    moving = np.zeros(n, dtype=bool)
    moving[moves.person] = True

    # -- status events: marriage, divorce, birth (one uniform draw decides)
    people = couples.People(pop.sex, age, pop.marital, pop.village, geo.county, alive)
    keys = people.keys(cells)
    targets = _status_targets(calibration, residents, season)
    # v2 draws mothers by the calibrated ages; v1 keeps its weights (and its bytes)
    fertility = origins.fertility if origins is not None else None
    targets["birth"] = targets["birth"] * _births_kept(keys, pop.village, ~alive | moving,
                                                       geo.size, fertility)
    drawn = couples.draw_status_events(rng, keys, pop.village, targets, fertility)
    del cells
    taken = np.zeros(n, dtype=bool)
    wed = couples.couples(rng, people, drawn, taken, "marriage")
    split = couples.couples(rng, people, drawn, taken, "divorce")
    widows = couples.widowed(rng, people, taken, dying)

    # -- births to mothers who stay put, in the mother's village and household
    mothers = drawn["birth"]
    mothers = mothers[alive[mothers] & ~moving[mothers]]
    b_reg = calendar.registrations(rng, len(mothers))
    b_day = calendar.occurrences(rng, b_reg, np.full(len(mothers), -(2**30)), "births")
    b_sex = np.where(rng.random(len(mothers)) < demo.SEX_RATIO_AT_BIRTH / (
        1 + demo.SEX_RATIO_AT_BIRTH), 1, 2).astype(np.int8)
    newborns = Population(
        pid=counters.pids(len(mothers)), hh=pop.hh[mothers], village=pop.village[mothers],
        sex=b_sex, birth=b_day, indigenous=pop.indigenous[mothers],
        marital=np.ones(len(mothers), dtype=np.int8), tribe=pop.tribe[mothers],
    )

    # -- arrivals from abroad: the village (and often the household) of a random resident
    arrivals, arrival_events = _arrivals(rng, pop, counters, calendar,
                                         scale * demo.SEASON["moves"][season])

    # -- events
    d_reg = calendar.registrations(rng, len(dying))
    m_reg = calendar.registrations(rng, len(wed.spouse))
    v_reg = calendar.registrations(rng, len(split.spouse))
    judicial = rng.random(len(split.spouse)) < demo.JUDICIAL_DIVORCE_SHARE
    v_occ = np.where(judicial, calendar.occurrences(rng, v_reg, pop.birth[split.spouse],
                                                    "divorces"), v_reg)
    l_reg = calendar.registrations(rng, len(leaving))
    v2: dict[str, dict[str, np.ndarray]] = {"birth": {}, "marriage": {}}
    if origins is not None and origins_rng is not None:
        v2["birth"] = {"mother_birth": pop.birth[mothers],
                       "mother_nationality": origins.mothers(origins_rng, len(mothers))}
        nationality, partner_nationality = origins.spouses(
            origins_rng, pop.sex[wed.spouse], wed.partner_sex)
        v2["marriage"] = {"nationality": nationality,
                          "partner_nationality": partner_nationality}
    batches = [
        make_events(BIRTH, b_reg, b_day, newborns.pid, b_sex, b_day, village=newborns.village,
                    **v2["birth"]),
        make_events(DEATH, d_reg, calendar.occurrences(rng, d_reg, pop.birth[dying], "deaths"),
                    pop.pid[dying], pop.sex[dying], pop.birth[dying], village=pop.village[dying]),
        make_events(MARRIAGE, m_reg, m_reg, pop.pid[wed.spouse], pop.sex[wed.spouse],
                    pop.birth[wed.spouse], village=pop.village[wed.spouse],
                    partner_sex=wed.partner_sex, **v2["marriage"]),
        make_events(DIVORCE, v_reg, v_occ, pop.pid[split.spouse], pop.sex[split.spouse],
                    pop.birth[split.spouse], village=pop.village[split.spouse],
                    partner_sex=split.partner_sex),
        moves.events(pop),
        make_events(MOVE, l_reg, calendar.occurrences(rng, l_reg, pop.birth[leaving], "moves"),
                    pop.pid[leaving], pop.sex[leaving], pop.birth[leaving],
                    origin=pop.village[leaving], move_kind=demo.MOVE_KINDS.index("to_abroad")),
        arrival_events,
    ]
    events = concat_events(batches).sorted()

    # -- corrections: persons without any event this month, dropped or copied
    quiet = alive & ~moving & ~taken  # taken: spouses, partners and the widowed
    quiet[mothers] = False
    dropped, added, injected = _corrections(rng, pop, quiet, corrections, counters, geo, label)

    # -- the next snapshot, built once: survivors, then newborns, arrivals, additions
    keep = alive.copy()
    keep[dropped] = False
    position = np.cumsum(keep) - 1
    nxt = pop.assemble(keep, [newborns, arrivals, added])
    nxt.village[position[moves.person]] = moves.destination
    nxt.hh[position[moves.person]] = moves.household
    nxt.marital[position[np.r_[wed.spouse, wed.partner]]] = 2
    nxt.marital[position[np.r_[split.spouse, split.partner]]] = 3
    nxt.marital[position[widows]] = 4

    tally = {
        "persons": len(nxt), "households": nxt.households(), **_event_counts(events),
        "widowed": len(widows), "corrections": len(injected),
        "recoded_persons": sum(int(e["delta"]) for e in recodings if int(e["delta"]) > 0),
    }
    return MonthResult(nxt, events, tally, injected, recodings)


def _event_counts(events: EventBatch) -> dict[str, int]:
    """Events of the month by type, sex, kind of couple and kind of move."""
    counts: dict[str, int] = {}
    for code, name in ((BIRTH, "births"), (DEATH, "deaths")):
        of_type = events.kind == code
        counts[name] = int(of_type.sum())
        counts[f"{name}_male"] = int((of_type & (events.sex == 1)).sum())
    for code, name in ((MARRIAGE, "marriages"), (DIVORCE, "divorces")):
        of_type = events.kind == code
        same = of_type & (events.sex == events.partner_sex)
        counts[name] = int(of_type.sum())
        counts[f"{name}_same_sex_male"] = int((same & (events.sex == 1)).sum())
        counts[f"{name}_same_sex_female"] = int((same & (events.sex == 2)).sum())
    kinds = events.move_kind[events.kind == MOVE]
    counts["moves"] = len(kinds)
    counts.update({f"moves_{k}": int((kinds == i).sum()) for i, k in enumerate(demo.MOVE_KINDS)})
    return counts


def _arrivals(rng: np.random.Generator, pop: Population, counters: Counters,
              calendar: Calendar, expected: float) -> tuple[Population, EventBatch]:
    """Persons registering from abroad, and their MOVE events (empty origin)."""
    k = int(rng.poisson(demo.MOVES_PER_MONTH["from_abroad"] * expected)) if len(pop) else 0
    host = rng.integers(0, len(pop), size=k) if k else np.zeros(0, dtype=np.int64)
    sex, age = demo.draw_arrivals(rng, k)
    registration = calendar.registrations(rng, k)
    occurrence = calendar.occurrences(rng, registration, np.full(k, -(2**30)), "moves")
    offset = np.floor((age + rng.random(k)) * demo.DAYS_PER_YEAR).astype(np.int32)
    birth = np.minimum(occurrence - offset, occurrence).astype(np.int32)
    joins = rng.random(k) < demo.ARRIVAL_JOINS_HOUSEHOLD
    hh = np.where(joins, pop.hh[host], 0).astype(np.int32)
    hh[~joins] = counters.households(int((~joins).sum()))
    people = Population(
        pid=counters.pids(k), hh=hh, village=pop.village[host], sex=sex, birth=birth,
        indigenous=np.zeros(k, dtype=np.int8),
        marital=demo.draw_marital(rng, demo.cell_of(sex, age)), tribe=np.zeros(k, dtype=np.int8),
    )
    events = make_events(MOVE, registration, occurrence, people.pid, sex, birth,
                         destination=people.village,
                         move_kind=demo.MOVE_KINDS.index("from_abroad"))
    return people, events


def _corrections(
    rng: np.random.Generator, pop: Population, quiet: np.ndarray, count: int,
    counters: Counters, geo: Geography, label: str,
) -> tuple[np.ndarray, Population, list[Entry]]:
    """Register corrections: persons dropped or added without any event.

    Half are persons without an event this month dropped from the snapshot; the others
    are forgotten members added to the household (and village) of such a person.
    Returns the dropped rows, the added persons and the manifest entries.
    """
    if count <= 0 or not len(pop):
        return np.zeros(0, dtype=np.int64), empty_population(), []
    candidates = np.flatnonzero(quiet)
    n_drop = min(int((rng.random(count) < 0.5).sum()), len(candidates))
    chosen = rng.choice(candidates, size=min(count, len(candidates)), replace=False)
    dropped, models = np.sort(chosen[:n_drop]), chosen[n_drop:]
    added = pop.take(models).with_columns(pid=counters.pids(len(models)))
    entries: list[Entry] = [
        {"month": label, "village_code": str(geo.codes[pop.village[i]]), "delta": -1,
         "person_id": f"P{pop.pid[i]}"}
        for i in dropped
    ]
    entries += [
        {"month": label, "village_code": str(geo.codes[v]), "delta": 1, "person_id": f"P{p}"}
        for v, p in zip(added.village, added.pid, strict=True)
    ]
    return dropped, added, entries
