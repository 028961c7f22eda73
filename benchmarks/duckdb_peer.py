"""The peer: the seven release tables of one period (CONTRACT §3) in DuckDB SQL, written as
DuckDB's best engineer would, to measure popstats against.

    python benchmarks/duckdb_peer.py EXTRACT PERIOD OUT [--codes FILE] [--threads N]

* each snapshot is scanned once: the end snapshot by ``GROUPING SETS`` into the persons'
  village × sex × age × marital × indigenous cells and the distinct (village, household)
  pairs together; the start snapshot into persons per village; the events once;
* every level comes from those village-level results by ``GROUPING SETS`` (never a
  second pass over the persons), households as ``count(DISTINCT)`` over the pairs so a
  household spread over villages counts once above them;
* typed columns (Parquet's own, no casts on the way in), ``threads`` = the machine's cores,
  no insertion order kept.

No validation (popstats validates every rule in the same read). Writes
``OUT/<table>.parquet``; the benchmark checks they equal popstats' tables.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stats.codes import code_table  # noqa: E402
from stats.periods import Period  # noqa: E402

LEVEL_ORDER = ("CASE area_level WHEN 'national' THEN 0 WHEN 'county' THEN 1 "
               "WHEN 'township' THEN 2 ELSE 3 END")
# the codes of a village at each level, for GROUPING SETS over them
CODES = ("village_code AS v, substr(village_code, 1, 8) AS t, substr(village_code, 1, 5) AS c")
AREA = ("CASE WHEN grouping(v) = 0 THEN 'village' WHEN grouping(t) = 0 THEN 'township' "
        "WHEN grouping(c) = 0 THEN 'county' ELSE 'national' END AS area_level, "
        "coalesce(v, t, c, '00000') AS area_code")
ALL_LEVELS = "(v{k}), (t{k}), (c{k}), ({k0})"
STOCK_LEVELS = "(t{k}), (c{k}), ({k0})"


def sets(template: str, keys: str = "") -> str:
    """GROUPING SETS over the levels with extra keys (``, sex, age``)."""
    return template.format(k=keys, k0=keys.lstrip(", "))


def age_sql(ref) -> str:  # noqa: ANN001
    """Completed years on ``ref``, 100 and over as 100 (29 February: 1 March in common years)."""
    return (f"LEAST(100, {ref.year} - year(birth_date) - CASE WHEN month(birth_date) > {ref.month} "
            f"OR (month(birth_date) = {ref.month} AND day(birth_date) > {ref.day}) THEN 1 ELSE 0 END)")


VITAL = {
    "births": "event_type = 'BIRTH'", "births_male": "event_type = 'BIRTH' AND sex = 1",
    "births_female": "event_type = 'BIRTH' AND sex = 2",
    "deaths": "event_type = 'DEATH'", "deaths_male": "event_type = 'DEATH' AND sex = 1",
    "deaths_female": "event_type = 'DEATH' AND sex = 2",
    **{f"{name}{part}": f"event_type = '{kind}'" + cond
       for kind, name in (("MARRIAGE", "marriages"), ("DIVORCE", "divorces"))
       for part, cond in (("", ""), ("_same_sex", " AND sex = partner_sex"),
                          ("_same_sex_male", " AND sex = partner_sex AND sex = 1"),
                          ("_same_sex_female", " AND sex = partner_sex AND sex = 2"))},
}


def run(extract: Path, period: Period, out: Path, codes_path: Path | None,
        threads: int | None = None) -> None:
    """Compute and write the seven tables."""
    con = duckdb.connect()
    con.execute(f"SET threads = {threads or os.cpu_count()}")
    con.execute("SET preserve_insertion_order = false")
    areas = code_table(codes_path).areas(period).select("area_level", "area_code").to_arrow()  # noqa: F841
    con.execute("CREATE TEMP TABLE areas AS SELECT * FROM areas")
    start = extract / f"residents_{period.start_month.compact}.parquet"
    end = extract / f"residents_{period.end_month.compact}.parquet"
    events = [str(extract / f"events_{m.compact}.parquet") for m in period.months]
    p = str(period)
    # the end snapshot, one scan: the persons' cells and the distinct households together
    con.execute(f"""CREATE TEMP TABLE scanned AS
        SELECT village_code, household_id, sex, age, marital_status, indigenous, count(*) AS n,
               grouping(household_id) AS is_cell
        FROM (SELECT village_code, household_id, sex, {age_sql(period.reference_date)} AS age,
                     marital_status, indigenous FROM read_parquet('{end}'))
        GROUP BY GROUPING SETS ((village_code, household_id),
                                (village_code, sex, age, marital_status, indigenous))""")
    con.execute("CREATE TEMP TABLE cells AS SELECT village_code, sex, age, marital_status, "
                "indigenous, n FROM scanned WHERE is_cell = 1")
    con.execute("CREATE TEMP TABLE hh AS SELECT village_code, household_id FROM scanned "
                "WHERE is_cell = 0")
    con.execute("DROP TABLE scanned")
    con.execute(f"""CREATE TEMP TABLE start_n AS SELECT village_code, count(*) AS n
                    FROM read_parquet('{start}') GROUP BY village_code""")
    con.execute(f"CREATE TEMP TABLE ev AS SELECT * FROM read_parquet({events!r})")

    con.execute(f"""CREATE TEMP TABLE by_age AS
        WITH lv AS (SELECT {AREA}, sex, age, sum(n) AS n FROM (SELECT {CODES}, sex, age, n FROM cells)
                    GROUP BY GROUPING SETS ({sets(ALL_LEVELS, ', sex, age')}))
        SELECT '{p}' AS period, a.area_level, a.area_code, g.sex::TINYINT AS sex,
               g.age::SMALLINT AS age, coalesce(lv.n, 0)::BIGINT AS population
        FROM areas a CROSS JOIN (SELECT s AS sex, x AS age FROM range(1, 3) t(s), range(0, 101) u(x)) g
        LEFT JOIN lv USING (area_level, area_code, sex, age)""")
    con.execute(f"""CREATE TEMP TABLE population AS
        WITH h AS (SELECT {AREA}, count(DISTINCT household_id) AS households
                   FROM (SELECT {CODES}, household_id FROM hh)
                   GROUP BY GROUPING SETS ({sets(ALL_LEVELS)}))
        SELECT '{p}' AS period, b.area_level, b.area_code,
               coalesce(any_value(h.households), 0)::BIGINT AS households,
               sum(population)::BIGINT AS population,
               sum(population) FILTER (WHERE sex = 1)::BIGINT AS male,
               sum(population) FILTER (WHERE sex = 2)::BIGINT AS female
        FROM by_age b LEFT JOIN h USING (area_level, area_code)
        GROUP BY b.area_level, b.area_code""")
    con.execute(f"""CREATE TEMP TABLE marital AS
        WITH lv AS (SELECT {AREA}, sex, marital_status, sum(n) AS n
                    FROM (SELECT {CODES}, sex, marital_status, n FROM cells WHERE age >= 15)
                    GROUP BY GROUPING SETS ({sets(ALL_LEVELS, ', sex, marital_status')}))
        SELECT '{p}' AS period, a.area_level, a.area_code, g.sex::TINYINT AS sex,
               g.m::TINYINT AS marital_status, coalesce(lv.n, 0)::BIGINT AS population
        FROM (SELECT * FROM areas WHERE area_level <> 'village') a
        CROSS JOIN (SELECT s AS sex, m FROM range(1, 3) t(s), range(1, 5) u(m)) g
        LEFT JOIN lv ON lv.area_level = a.area_level AND lv.area_code = a.area_code
                     AND lv.sex = g.sex AND lv.marital_status = g.m""")
    con.execute(f"""CREATE TEMP TABLE indigenous AS
        WITH lv AS (SELECT {AREA}, indigenous, sum(n) FILTER (WHERE sex = 1) AS male,
                           sum(n) FILTER (WHERE sex = 2) AS female
                    FROM (SELECT {CODES}, sex, indigenous, n FROM cells WHERE indigenous > 0)
                    GROUP BY GROUPING SETS ({sets(ALL_LEVELS, ', indigenous')}))
        SELECT '{p}' AS period, a.area_level, a.area_code, g.i::TINYINT AS indigenous,
               coalesce(lv.male, 0)::BIGINT AS male, coalesce(lv.female, 0)::BIGINT AS female,
               (coalesce(lv.male, 0) + coalesce(lv.female, 0))::BIGINT AS population
        FROM areas a CROSS JOIN (SELECT i FROM range(1, 3) t(i)) g
        LEFT JOIN lv ON lv.area_level = a.area_level AND lv.area_code = a.area_code
                     AND lv.indigenous = g.i""")
    counts = ", ".join(f"count(*) FILTER (WHERE {cond}) AS {name}" for name, cond in VITAL.items())
    sums = ", ".join(f"sum({name}) AS {name}" for name in VITAL)
    # a move is migration at a level when its two ends' codes there differ (an empty end
    # lies outside every area): the moves once, against the four levels' code lengths
    level_code = ("CASE l.len WHEN 0 THEN CASE WHEN {x} IS NOT NULL THEN '00000' END "
                  "ELSE substr({x}, 1, l.len) END")
    con.execute(f"""CREATE TEMP TABLE vital AS
        WITH v AS (SELECT village_code, {counts} FROM ev WHERE event_type <> 'MOVE' GROUP BY village_code),
        lv AS (SELECT {AREA}, {sums} FROM (SELECT {CODES}, * EXCLUDE (village_code) FROM v)
               GROUP BY GROUPING SETS ({sets(ALL_LEVELS)})),
        ends AS (SELECT l.level, {level_code.format(x='from_village_code')} AS o,
                        {level_code.format(x='to_village_code')} AS d
                 FROM (SELECT from_village_code, to_village_code FROM ev WHERE event_type = 'MOVE')
                 CROSS JOIN (VALUES ('village', 11), ('township', 8), ('county', 5), ('national', 0)) l(level, len)),
        crossing AS (SELECT * FROM ends WHERE o IS DISTINCT FROM d),
        mv AS (SELECT coalesce(i.level, x.level) AS area_level, coalesce(i.code, x.code) AS area_code,
                      coalesce(i.n, 0) AS i, coalesce(x.n, 0) AS o
               FROM (SELECT level, d AS code, count(*) AS n FROM crossing WHERE d IS NOT NULL GROUP BY ALL) i
               FULL JOIN (SELECT level, o AS code, count(*) AS n FROM crossing WHERE o IS NOT NULL GROUP BY ALL) x
               ON i.level = x.level AND i.code = x.code)
        SELECT '{p}' AS period, a.area_level, a.area_code,
               {", ".join(f"coalesce(lv.{n}, 0)::BIGINT AS {n}" for n in VITAL)},
               coalesce(mv.i, 0)::BIGINT AS in_migration, coalesce(mv.o, 0)::BIGINT AS out_migration,
               (coalesce(lv.births, 0) - coalesce(lv.deaths, 0))::BIGINT AS natural_increase,
               (coalesce(mv.i, 0) - coalesce(mv.o, 0))::BIGINT AS social_increase
        FROM areas a LEFT JOIN lv USING (area_level, area_code) LEFT JOIN mv USING (area_level, area_code)""")
    con.execute(f"""CREATE TEMP TABLE reconciliation AS
        WITH s AS (SELECT {AREA}, sum(n) AS n FROM (SELECT {CODES}, n FROM start_n)
                   GROUP BY GROUPING SETS ({sets(ALL_LEVELS)}))
        SELECT '{p}' AS period, a.area_level, a.area_code, coalesce(s.n, 0)::BIGINT AS population_start,
               v.births, v.deaths, v.in_migration, v.out_migration, pop.population AS population_end,
               (pop.population - (coalesce(s.n, 0) + v.births - v.deaths + v.in_migration
                                  - v.out_migration))::BIGINT AS residual
        FROM areas a LEFT JOIN s USING (area_level, area_code) JOIN vital v USING (area_level, area_code)
        JOIN population pop USING (area_level, area_code)""")
    factor = period.annualisation_factor

    def ratio(num: str, den: str, scale: float) -> str:
        return f"CASE WHEN ({den}) <> 0 THEN ({num})::DOUBLE / ({den}) * {scale} END"

    average = "(r.population_start + r.population_end) / 2"
    con.execute(f"""CREATE TEMP TABLE indicators AS
        WITH g AS (SELECT area_level, area_code, sum(population) FILTER (WHERE age <= 14) AS y,
                          sum(population) FILTER (WHERE age BETWEEN 15 AND 64) AS w,
                          sum(population) FILTER (WHERE age >= 65) AS o FROM by_age GROUP BY ALL),
        c AS (SELECT area_level, area_code, age, sum(population) AS n FROM by_age GROUP BY ALL),
        cum AS (SELECT *, sum(n) OVER (PARTITION BY area_level, area_code ORDER BY age) AS cum,
                          sum(n) OVER (PARTITION BY area_level, area_code) AS total FROM c),
        med AS (SELECT area_level, area_code, arg_min(age + (total / 2 - (cum - n)) / n, age) AS median_age
                FROM cum WHERE total > 0 AND cum >= total / 2 GROUP BY ALL)
        SELECT '{p}' AS period, pop.area_level, pop.area_code,
          {ratio("male", "female", 100)} AS sex_ratio,
          {ratio("pop.population", "households", 1)} AS avg_household_size,
          {ratio("y", "pop.population", 100)} AS share_0_14,
          {ratio("w", "pop.population", 100)} AS share_15_64,
          {ratio("o", "pop.population", 100)} AS share_65_plus,
          {ratio("y + o", "w", 100)} AS dependency_ratio,
          {ratio("y", "w", 100)} AS child_dependency_ratio,
          {ratio("o", "w", 100)} AS old_age_dependency_ratio,
          {ratio("o", "y", 100)} AS aging_index,
          med.median_age::DOUBLE AS median_age,
          {ratio("v.births", average, 1000 * factor)} AS crude_birth_rate,
          {ratio("v.deaths", average, 1000 * factor)} AS crude_death_rate,
          {ratio("v.natural_increase", average, 1000 * factor)} AS natural_increase_rate,
          {ratio("v.marriages", average, 1000 * factor)} AS crude_marriage_rate,
          {ratio("v.divorces", average, 1000 * factor)} AS crude_divorce_rate
        FROM population pop JOIN g USING (area_level, area_code) LEFT JOIN med USING (area_level, area_code)
        JOIN vital v USING (area_level, area_code) JOIN reconciliation r USING (area_level, area_code)""")
    out.mkdir(parents=True, exist_ok=True)
    tables = {"population": "population", "population_by_age": "by_age", "vital_events": "vital",
              "indicators": "indicators", "population_by_marital_status": "marital",
              "indigenous_population": "indigenous", "reconciliation": "reconciliation"}
    keys = {"population_by_age": ", sex, age", "population_by_marital_status": ", sex, marital_status",
            "indigenous_population": ", indigenous"}
    for name, temp in tables.items():
        con.execute(f"COPY (SELECT * FROM {temp} ORDER BY {LEVEL_ORDER}, area_code{keys.get(name, '')}) "
                    f"TO '{out / (name + '.parquet')}' (FORMAT parquet)")


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("extract", type=Path)
    parser.add_argument("period")
    parser.add_argument("out", type=Path)
    parser.add_argument("--codes", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=None, help="default: the machine's cores")
    args = parser.parse_args()
    run(args.extract, Period.parse(args.period), args.out, args.codes, args.threads)


if __name__ == "__main__":
    main()
