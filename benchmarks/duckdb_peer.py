"""The peer: the seven release tables of one period computed with DuckDB SQL.

Run as a script in its own process (so its peak RSS is its own):
    python benchmarks/duckdb_peer.py EXTRACT PERIOD OUT [--codes FILE]
It reads the same Parquet extract, computes the same definitions (CONTRACT §3) without
validation, and writes ``OUT/<table>.parquet``; the benchmark compares the results with
popstats' and reports the time ratio.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stats.codes import code_table  # noqa: E402
from stats.periods import Period  # noqa: E402

LEVEL_CODE = {
    "village": "{c}",
    "township": "substr({c}, 1, 8)",
    "county": "substr({c}, 1, 5)",
    "national": "CASE WHEN {c} IS NOT NULL THEN '00000' END",
}
LEVEL_ORDER = "CASE area_level WHEN 'national' THEN 0 WHEN 'county' THEN 1 WHEN 'township' THEN 2 ELSE 3 END"


def by_levels(select: str, column: str, levels: tuple[str, ...] = tuple(LEVEL_CODE)) -> str:
    """UNION ALL of a query template over levels; {code} is the level's area code."""
    return "\nUNION ALL\n".join(
        select.format(level=level, code=LEVEL_CODE[level].format(c=column)) for level in levels
    )


def migration_sql() -> str:
    """In- and out-migration per area and level: moves whose ends lie in different areas."""
    parts = []
    for level, template in LEVEL_CODE.items():
        dest, origin = template.format(c="to_village_code"), template.format(c="from_village_code")
        parts.append(
            f"SELECT '{level}' AS area_level, area_code, sum(i) AS i, sum(o) AS o FROM ("
            f"SELECT {dest} AS area_code, 1 AS i, 0 AS o FROM ev WHERE event_type = 'MOVE' "
            f"AND {dest} IS NOT NULL AND {dest} IS DISTINCT FROM {origin} UNION ALL "
            f"SELECT {origin}, 0, 1 FROM ev WHERE event_type = 'MOVE' "
            f"AND {origin} IS NOT NULL AND {origin} IS DISTINCT FROM {dest}) GROUP BY area_code"
        )
    return "\nUNION ALL\n".join(parts)


def run(extract: Path, period: Period, out: Path, codes_path: Path | None) -> None:
    """Compute and write the seven tables."""
    con = duckdb.connect()
    con.execute("SET preserve_insertion_order = false")
    areas = code_table(codes_path).areas(period).select("area_level", "area_code").to_arrow()  # noqa: F841
    con.execute("CREATE TEMP TABLE areas AS SELECT * FROM areas")
    ref = period.reference_date
    start = extract / f"residents_{period.start_month.compact}.parquet"
    end = extract / f"residents_{period.end_month.compact}.parquet"
    events = [str(extract / f"events_{m.compact}.parquet") for m in period.months]
    p = str(period)
    age = (f"LEAST(100, {ref.year} - year(birth_date) - CASE WHEN month(birth_date) > {ref.month} "
           f"OR (month(birth_date) = {ref.month} AND day(birth_date) > {ref.day}) THEN 1 ELSE 0 END)")
    con.execute(f"""CREATE TEMP TABLE cells AS SELECT village_code, sex, {age} AS age, marital_status,
                    indigenous, count(*) AS n FROM read_parquet('{end}') GROUP BY ALL""")
    con.execute(f"""CREATE TEMP TABLE ev AS SELECT * FROM read_parquet({events!r})""")
    con.execute(f"""CREATE TEMP TABLE by_age AS
        WITH lv AS ({by_levels("SELECT '{level}' AS area_level, {code} AS area_code, sex, age, sum(n) AS n FROM cells GROUP BY ALL", "village_code")})
        SELECT '{p}' AS period, a.area_level, a.area_code, g.sex::TINYINT AS sex, g.age::SMALLINT AS age,
               coalesce(lv.n, 0)::BIGINT AS population
        FROM areas a CROSS JOIN (SELECT s AS sex, x AS age FROM range(1, 3) t(s), range(0, 101) u(x)) g
        LEFT JOIN lv USING (area_level, area_code, sex, age)""")
    con.execute(f"""CREATE TEMP TABLE hh AS {by_levels(
        "SELECT '{level}' AS area_level, {code} AS area_code, count(DISTINCT household_id) AS households FROM read_parquet('" + str(end) + "') GROUP BY ALL", "village_code")}""")
    con.execute(f"""CREATE TEMP TABLE population AS
        SELECT '{p}' AS period, b.area_level, b.area_code, coalesce(hh.households, 0)::BIGINT AS households,
               sum(population)::BIGINT AS population,
               sum(population) FILTER (WHERE sex = 1)::BIGINT AS male,
               sum(population) FILTER (WHERE sex = 2)::BIGINT AS female
        FROM by_age b LEFT JOIN hh USING (area_level, area_code) GROUP BY b.area_level, b.area_code, hh.households""")
    con.execute(f"""CREATE TEMP TABLE marital AS
        WITH lv AS ({by_levels("SELECT '{level}' AS area_level, {code} AS area_code, sex, marital_status, sum(n) AS n FROM cells WHERE age >= 15 GROUP BY ALL", "village_code", ("national", "county", "township"))})
        SELECT '{p}' AS period, a.area_level, a.area_code, g.sex::TINYINT AS sex, g.m::TINYINT AS marital_status,
               coalesce(lv.n, 0)::BIGINT AS population
        FROM (SELECT * FROM areas WHERE area_level <> 'village') a
        CROSS JOIN (SELECT s AS sex, m FROM range(1, 3) t(s), range(1, 5) u(m)) g
        LEFT JOIN lv ON lv.area_level = a.area_level AND lv.area_code = a.area_code
                     AND lv.sex = g.sex AND lv.marital_status = g.m""")
    con.execute(f"""CREATE TEMP TABLE indigenous AS
        WITH lv AS ({by_levels("SELECT '{level}' AS area_level, {code} AS area_code, indigenous, sum(n) FILTER (WHERE sex = 1) AS male, sum(n) FILTER (WHERE sex = 2) AS female FROM cells WHERE indigenous > 0 GROUP BY ALL", "village_code")})
        SELECT '{p}' AS period, a.area_level, a.area_code, g.i::TINYINT AS indigenous,
               coalesce(lv.male, 0)::BIGINT AS male, coalesce(lv.female, 0)::BIGINT AS female,
               (coalesce(lv.male, 0) + coalesce(lv.female, 0))::BIGINT AS population
        FROM areas a CROSS JOIN (SELECT i FROM range(1, 3) t(i)) g
        LEFT JOIN lv ON lv.area_level = a.area_level AND lv.area_code = a.area_code AND lv.indigenous = g.i""")
    counts = """count(*) FILTER (WHERE event_type = 'BIRTH') AS births,
        count(*) FILTER (WHERE event_type = 'BIRTH' AND sex = 1) AS births_male,
        count(*) FILTER (WHERE event_type = 'BIRTH' AND sex = 2) AS births_female,
        count(*) FILTER (WHERE event_type = 'DEATH') AS deaths,
        count(*) FILTER (WHERE event_type = 'DEATH' AND sex = 1) AS deaths_male,
        count(*) FILTER (WHERE event_type = 'DEATH' AND sex = 2) AS deaths_female,
        count(*) FILTER (WHERE event_type = 'MARRIAGE') AS marriages,
        count(*) FILTER (WHERE event_type = 'MARRIAGE' AND sex = partner_sex) AS marriages_same_sex,
        count(*) FILTER (WHERE event_type = 'MARRIAGE' AND sex = partner_sex AND sex = 1) AS marriages_same_sex_male,
        count(*) FILTER (WHERE event_type = 'MARRIAGE' AND sex = partner_sex AND sex = 2) AS marriages_same_sex_female,
        count(*) FILTER (WHERE event_type = 'DIVORCE') AS divorces,
        count(*) FILTER (WHERE event_type = 'DIVORCE' AND sex = partner_sex) AS divorces_same_sex,
        count(*) FILTER (WHERE event_type = 'DIVORCE' AND sex = partner_sex AND sex = 1) AS divorces_same_sex_male,
        count(*) FILTER (WHERE event_type = 'DIVORCE' AND sex = partner_sex AND sex = 2) AS divorces_same_sex_female"""
    names = [line.split(" AS ")[-1].strip().rstrip(",") for line in counts.split("\n")]
    moves = migration_sql()
    con.execute(f"""CREATE TEMP TABLE vital AS
        WITH v AS (SELECT village_code, {counts} FROM ev WHERE event_type <> 'MOVE' GROUP BY village_code),
        lv AS ({by_levels("SELECT '{level}' AS area_level, {code} AS area_code, " + ", ".join(f"sum({n}) AS {n}" for n in names) + " FROM v GROUP BY ALL", "village_code")}),
        mv AS ({moves})
        SELECT '{p}' AS period, a.area_level, a.area_code,
               {", ".join(f"coalesce(lv.{n}, 0)::BIGINT AS {n}" for n in names)},
               coalesce(mv.i, 0)::BIGINT AS in_migration, coalesce(mv.o, 0)::BIGINT AS out_migration,
               (coalesce(lv.births, 0) - coalesce(lv.deaths, 0))::BIGINT AS natural_increase,
               (coalesce(mv.i, 0) - coalesce(mv.o, 0))::BIGINT AS social_increase
        FROM areas a LEFT JOIN lv USING (area_level, area_code) LEFT JOIN mv USING (area_level, area_code)""")
    con.execute(f"""CREATE TEMP TABLE reconciliation AS
        WITH s AS ({by_levels("SELECT '{level}' AS area_level, {code} AS area_code, count(*) AS n FROM read_parquet('" + str(start) + "') GROUP BY ALL", "village_code")})
        SELECT '{p}' AS period, a.area_level, a.area_code, coalesce(s.n, 0)::BIGINT AS population_start,
               v.births, v.deaths, v.in_migration, v.out_migration, pop.population AS population_end,
               (pop.population - (coalesce(s.n, 0) + v.births - v.deaths + v.in_migration - v.out_migration))::BIGINT AS residual
        FROM areas a LEFT JOIN s USING (area_level, area_code) JOIN vital v USING (area_level, area_code)
        JOIN population pop USING (area_level, area_code)""")
    factor = period.annualisation_factor

    def ratio(num: str, den: str, scale: float) -> str:
        return f"CASE WHEN ({den}) <> 0 THEN ({num})::DOUBLE / ({den}) * {scale} END"

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
          {ratio("v.births", "(r.population_start + r.population_end) / 2", 1000 * factor)} AS crude_birth_rate,
          {ratio("v.deaths", "(r.population_start + r.population_end) / 2", 1000 * factor)} AS crude_death_rate,
          {ratio("v.natural_increase", "(r.population_start + r.population_end) / 2", 1000 * factor)} AS natural_increase_rate,
          {ratio("v.marriages", "(r.population_start + r.population_end) / 2", 1000 * factor)} AS crude_marriage_rate,
          {ratio("v.divorces", "(r.population_start + r.population_end) / 2", 1000 * factor)} AS crude_divorce_rate
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("extract", type=Path)
    parser.add_argument("period")
    parser.add_argument("out", type=Path)
    parser.add_argument("--codes", type=Path, default=None)
    args = parser.parse_args()
    run(args.extract, Period.parse(args.period), args.out, args.codes)


if __name__ == "__main__":
    main()
