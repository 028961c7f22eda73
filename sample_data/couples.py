"""Status events: marriages, divorces and births drawn per person; partners matched by age.

Each person's chance of each status event depends on sex, single age and marital status
(a "key"). One uniform draw per person decides between them, so a person has at most one
of these events a month. Partners are found by drawing random residents and keeping the
first who fits: the right sex and marital status, about the wanted age, and at first
from the same county (people marry locally).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data import demography as demo

STATUSES = 5  # marital status codes 0-4 (0 unused)
CATEGORIES = ("marriage", "marriage_male", "marriage_female",
              "divorce", "divorce_male", "divorce_female", "birth")
PARTNER_SEX = {"marriage": 2, "marriage_male": 1, "marriage_female": 2,
               "divorce": 2, "divorce_male": 1, "divorce_female": 2}


@dataclass(frozen=True)
class People:
    """The columns status events need, for the persons of the previous snapshot."""

    sex: np.ndarray
    age: np.ndarray  # int16 completed years mid-month
    marital: np.ndarray
    village: np.ndarray
    county_of_village: np.ndarray
    alive: np.ndarray  # neither dying nor leaving the register this month

    def keys(self, cells: np.ndarray) -> np.ndarray:
        """Key (cell x marital status) of every person."""
        return (cells.astype(np.int16) * STATUSES + self.marital).astype(np.int16)


def _weights(fertility: np.ndarray | None = None) -> np.ndarray:
    """Relative monthly risk of each status event per key (keys x CATEGORIES); births by
    ``fertility`` per cell when given (v2's calibrated ages), else v1's weights."""
    married = np.arange(STATUSES) == 2
    by_status = {
        "marriage": demo.REMARRIAGE, "marriage_male": demo.REMARRIAGE,
        "marriage_female": demo.REMARRIAGE, "divorce": married, "divorce_male": married,
        "divorce_female": married, "birth": demo.FERTILITY_BY_STATUS,
    }
    by_cell = {
        "marriage": demo.groom_weights(), "marriage_male": demo.same_sex_weights(1),
        "marriage_female": demo.same_sex_weights(2), "divorce": demo.divorce_weights(1),
        "divorce_male": demo.divorce_weights(1), "divorce_female": demo.divorce_weights(2),
        "birth": demo.fertility_weights() if fertility is None else fertility,
    }
    return np.stack(
        [np.outer(by_cell[c], np.asarray(by_status[c], dtype=float)).ravel() for c in CATEGORIES],
        axis=1,
    )


def birth_weights(fertility: np.ndarray | None = None) -> np.ndarray:
    """Relative monthly chance of giving birth per key (sex x age x marital status)."""
    return _weights(fertility)[:, CATEGORIES.index("birth")]


def draw_status_events(rng: np.random.Generator, keys: np.ndarray, village: np.ndarray,
                       expected: dict[str, np.ndarray],
                       fertility: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Rows of the persons with each status event this month.

    ``expected`` gives each category's expected events per village (MOI's village rates);
    within a village a person's chance follows the weight of their key (sex, age, marital
    status). One uniform draw per person decides between the categories. The chances are
    tabled per (village, key) once, so each person costs one lookup. ``fertility``: the
    per-cell birth weights (None: v1's).
    """
    weight = _weights(fertility)
    n_keys, n_villages = len(weight), len(next(iter(expected.values())))
    cell = village.astype(np.int32) * n_keys + keys
    counts = np.bincount(cell, minlength=n_villages * n_keys).reshape(n_villages, n_keys)
    sums = counts @ weight  # villages x categories: the weight each village holds
    wanted = np.stack([np.asarray(expected.get(c, np.zeros(n_villages)), dtype=np.float64)
                       for c in CATEGORIES], axis=1)
    factor = np.divide(wanted, sums, out=np.zeros_like(sums), where=sums > 0)
    total = np.minimum((factor @ weight.T).astype(np.float32), np.float32(1.0)).ravel()[cell]
    u = rng.random(len(keys), dtype=np.float32)
    rows = np.flatnonzero(u < total)
    cumulative = np.cumsum(weight[keys[rows]] * factor[village[rows]], axis=1)
    category = np.minimum((u[rows, None] >= cumulative).sum(axis=1), len(CATEGORIES) - 1)
    return {c: rows[category == i] for i, c in enumerate(CATEGORIES)}


def match(
    rng: np.random.Generator,
    people: People,
    taken: np.ndarray,
    sex: np.ndarray,
    age: np.ndarray,
    county: np.ndarray,
    married: bool,
) -> np.ndarray:
    """For each request a partner (row) of that sex and about that age, or -1.

    Candidates must be alive this month, not yet in a couple (``taken``, updated), and
    married (``married``) or unmarried adults. Tolerance widens over the rounds: same
    county and +/-1 year, then anywhere, then +/-3 and +/-10 years.
    """
    k, n = len(sex), len(people.sex)
    found = np.full(k, -1, dtype=np.int64)
    if not k or not n:
        return found
    for attempt in range(14):
        todo = np.flatnonzero(found < 0)
        if not len(todo):
            break
        tolerance = 1 if attempt < 6 else (3 if attempt < 10 else 10)
        tries = rng.integers(0, n, size=(len(todo), 96))
        # cheap, selective tests first; the others only where those pass
        ok = (people.sex[tries] == sex[todo, None])
        ok &= np.abs(people.age[tries] - age[todo, None]) <= tolerance
        r, c = np.nonzero(ok)
        who = tries[r, c]
        status = people.marital[who]
        fits = people.alive[who] & ~taken[who]
        fits &= (status == 2) if married else ((status != 2) & (people.age[who] >= 18))
        if attempt < 3:
            fits &= people.county_of_village[people.village[who]] == county[todo[r]]
        ok[r[~fits], c[~fits]] = False
        hit = np.flatnonzero(ok.any(axis=1))
        pick = tries[hit, ok[hit].argmax(axis=1)]
        # two requests may draw the same person: the first keeps them
        pick, first = np.unique(pick, return_index=True)
        found[todo[hit[first]]] = pick
        taken[pick] = True
    return found


def partner_ages(rng: np.random.Generator, age: np.ndarray, gap_mean: np.ndarray) -> np.ndarray:
    """Target ages of partners, ``gap_mean`` years younger on average (sd 4 years)."""
    gap = rng.normal(gap_mean, demo.AGE_GAP_SD)
    return np.maximum(np.rint(age - gap), 18).astype(np.int16)


@dataclass(frozen=True)
class Couples:
    """Couples formed or dissolved: spouse 1 and partner rows, and the partner's sex."""

    spouse: np.ndarray
    partner: np.ndarray
    partner_sex: np.ndarray


def couples(rng: np.random.Generator, people: People, drawn: dict[str, np.ndarray],
            taken: np.ndarray, kind: str) -> Couples:
    """Spouses 1 drawn for ``kind`` (marriage or divorce), each matched to a partner."""
    spouses, partner_sex = [], []
    for category in (kind, f"{kind}_male", f"{kind}_female"):
        rows = drawn[category]
        rows = rows[people.alive[rows] & ~taken[rows]]
        taken[rows] = True
        spouses.append(rows)
        partner_sex.append(np.full(len(rows), PARTNER_SEX[category], dtype=np.int8))
    spouse, psex = np.concatenate(spouses), np.concatenate(partner_sex)
    # wives ~2.5 years younger than husbands; same-sex partners of about the same age
    gap = np.where(people.sex[spouse] == psex, 0.0, demo.AGE_GAP_OPPOSITE)
    target = partner_ages(rng, people.age[spouse], gap)
    county = people.county_of_village[people.village[spouse]]
    partner = match(rng, people, taken, psex, target, county, married=kind == "divorce")
    taken[spouse[partner < 0]] = False  # no partner found: no couple
    ok = partner >= 0
    return Couples(spouse[ok], partner[ok], psex[ok])


def widowed(rng: np.random.Generator, people: People, taken: np.ndarray,
            deceased: np.ndarray) -> np.ndarray:
    """Surviving spouses of the married deceased (opposite sex, fitting age)."""
    married = deceased[people.marital[deceased] == 2]
    sex = (3 - people.sex[married]).astype(np.int8)
    # a dead husband leaves a wife ~2.5 years younger, a dead wife an older husband
    gap = np.where(people.sex[married] == 1, demo.AGE_GAP_OPPOSITE, -demo.AGE_GAP_OPPOSITE)
    target = partner_ages(rng, people.age[married], gap)
    county = people.county_of_village[people.village[married]]
    partner = match(rng, people, taken, sex, target, county, married=True)
    return partner[partner >= 0]
