"""Benchmark: single-area answers from a national release, at 20 concurrent agencies.

    python benchmarks/api_latency.py                      # scale 0.05, 20 agencies, 60 s
    python benchmarks/api_latency.py --scale 0.2 --data DIR --workers 2
    python benchmarks/api_latency.py --db postgresql+psycopg://postgres@127.0.0.1:5432/test

A month is sampled at ``--scale`` (residents; the geography, hence the 1.6 M rows of
``population_by_age``, is national at any scale), built and published (the release of
``benchmarks/api_abuse.py``, shared through ``--data``). ``--agencies`` agencies (default 20)
are made in the access database, each its own agency with its own grant of
``population_by_age`` through the online query and its own token: half of them national
grants, half the county of the township they ask for (so both the national and the
prefix-grant paths are timed). Each asks ``GET /api/v1/tables/population_by_age?period=P&
area_code=T`` for one township T of its own (spread over the country, so the answers come
from every part of the file), every ``--interval`` s (default 1 s, half the token's rate
limit), for the whole run.

The run is cut in 10-s windows alternating "solo" (only the first agency asks) and
"concurrent" (all of them ask at once, each on its own pace, started at the same instant),
so that whatever else loads this shared machine falls on both alike. Measured in the same
run: p50 / p95 / max latency of each phase, answers by status, requests per second, and the
ratio concurrent / solo. Target (issue 15): p95 ≤ 50 ms warm at 20 agencies. The server is
``popstats serve``'s (one threaded process) or with ``--workers N`` production's ``gunicorn
-w N dashboards.wsgi:app`` (as in api_abuse). Loopback only; every loop is bounded by its
phase's clock. Not a test: the figures go into the issue notes.

Capacity (``--capacity R1,R2,…``, requests/s over all agencies, ascending): instead of the
solo/concurrent windows, one ``--step`` s window at each offered rate, the agencies sharing
it evenly (each every ``agencies / R`` s, open loop), and the highest rate whose p95 is within
``--target-ms`` (default 50) with every answer a 200 — divided by ``--workers``, the
capacity per worker that docs/deployment.md sizes a server with. The rate limits are raised
for this run (``POPSTATS_API_RATE_LIMIT``: the gate still counts every request as in
production, it only refuses none), so that 20 agencies can offer more than their 2 per
second. The ramp stops after two steps over the target. The client's threads run on the same
cores as the server: the figure is a floor for a server with cores of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from api_abuse import PERIOD, database, get, p95, paced, prepare, start_server  # noqa: E402

WINDOW_S = 10.0


def make_agencies(db_url: str, releases: Path, n: int) -> list[tuple[str, str]]:
    """``n`` agencies, each with its grant and token: (token, path of its single-area ask)."""
    import polars as pl
    from sqlalchemy import select

    from access import accounts, agencies, grants
    from access.db import make_engine, session_factory
    from access.models import Provider, User

    townships = (pl.read_parquet(releases / PERIOD / "areas.parquet")
                 .filter(pl.col("area_level") == "township")["area_code"].sort().to_list())
    step = max(1, len(townships) // n)
    asked = [townships[(i * step) % len(townships)] for i in range(n)]
    now = datetime.now(UTC)
    today = now.date()
    engine = make_engine(db_url)
    out = []
    with session_factory(engine)() as session:
        providers = accounts.ensure_standard_providers(session)
        moi = providers["MOI"]
        official = session.scalar(select(User).where(User.username == "moi_official"))

        def county_official(provider: Provider) -> User:
            name = f"official_{provider.code}"
            found = session.scalar(select(User).where(User.username == name))
            return found or accounts.add_user(session, name, accounts_password(),
                                              "provider_official", now, provider=provider)

        rules = {key: f"本機關已訂定：{label}" for key, label in grants.RULE_ITEMS.items()}
        for i, township in enumerate(asked):
            agency = agencies.add_agency(session, f"延遲測試機關{i:02d}", now,
                                         code=f"B{i:08d}X", kind="central", by=official)
            user = accounts.add_user(session, f"latency{i:02d}", accounts_password(),
                                     "agency_user", now, agency=agency)
            # a county's data alone is granted by its government (point 6)
            area = "00000" if i % 2 == 0 else township[:5]
            provider = moi if area == "00000" else providers[area]
            approver = official if area == "00000" else county_official(provider)
            app = grants.submit(session, agency, provider, ["population_by_age"], [area],
                                ["online_query"], "人口統計延遲量測用途", rules, now,
                                legal_basis="戶籍法第65條", by=user)
            grants.approve(session, app, approver, today - timedelta(days=1),
                           today + timedelta(days=365), now)
            token = accounts.issue_token(session, user, now)
            out.append((token, f"/api/v1/tables/population_by_age?period={PERIOD}"
                               f"&area_code={township}"))
        session.commit()
    engine.dispose()
    return out


def accounts_password() -> str:
    import secrets

    return "Lat-" + secrets.token_urlsafe(12)


def schedule(n_windows: int) -> list[bool]:
    """Windows in order, True = concurrent: solo and concurrent alternating."""
    return [i % 2 == 1 for i in range(n_windows)]


def run_phases(port: int, asks: list[tuple[str, str]], seconds: float,
               interval: float) -> dict:
    """Solo and concurrent windows alternating; each answer counted in its window's phase."""
    windows = schedule(max(2, round(seconds / WINDOW_S)))
    latencies: dict[str, list[float]] = {"solo": [], "concurrent": []}
    statuses: dict[str, dict[int, int]] = {"solo": {}, "concurrent": {}}
    lock = threading.Lock()

    def agency(token: str, path: str, phase: str, until: float, offset: float) -> None:
        time.sleep(offset)  # spread the agencies over the interval, as independent callers

        def ask() -> None:
            status, _size, took = get(port, path, token)
            with lock:
                latencies[phase].append(took)
                statuses[phase][status] = statuses[phase].get(status, 0) + 1
        paced(until, interval, ask)

    started = time.monotonic()
    for i, concurrent in enumerate(windows):
        until = started + WINDOW_S * (i + 1)
        phase = "concurrent" if concurrent else "solo"
        callers = asks if concurrent else asks[:1]
        threads = [threading.Thread(target=agency, args=(
            token, path, phase, until, interval * k / len(callers)))
            for k, (token, path) in enumerate(callers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    elapsed = {p: WINDOW_S * sum(1 for w in windows if w == (p == "concurrent"))
               for p in latencies}

    def summary(phase: str) -> dict:
        values = latencies[phase]
        return {"n": len(values), "statuses": statuses[phase],
                "requests_per_s": round(len(values) / elapsed[phase], 1),
                "p50_ms": round(statistics.median(values) * 1000, 1),
                "p95_ms": round(p95(values) * 1000, 1),
                "max_ms": round(max(values) * 1000, 1)}

    solo, together = summary("solo"), summary("concurrent")
    return {"windows": "".join("C" if w else "s" for w in windows), "solo": solo,
            "concurrent": together,
            "p95_ratio": round(together["p95_ms"] / solo["p95_ms"], 2),
            "p50_ratio": round(together["p50_ms"] / solo["p50_ms"], 2),
            "target_p95_ms": 50, "met": together["p95_ms"] <= 50}


def offered(port: int, asks: list[tuple[str, str]], rate: float,
            seconds: float) -> tuple[list[float], dict[int, int]]:
    """``rate`` requests/s shared evenly by the agencies for ``seconds`` (open loop); every
    answer's seconds and the statuses."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    interval = len(asks) / rate
    until = time.monotonic() + seconds

    def agency(token: str, path: str, offset: float) -> None:
        time.sleep(offset)

        def ask() -> None:
            status, _size, took = get(port, path, token)
            with lock:
                latencies.append(took)
                statuses[status] = statuses.get(status, 0) + 1
        paced(until, interval, ask)

    threads = [threading.Thread(target=agency, args=(token, path, interval * k / len(asks)))
               for k, (token, path) in enumerate(asks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses


def run_ramp(port: int, asks: list[tuple[str, str]], rates: list[float], step: float,
             target_ms: float, workers: int) -> dict:
    """One window per offered rate (ascending); the capacity at ``target_ms`` p95."""
    steps: list[dict] = []
    for rate in rates:
        latencies, statuses = offered(port, asks, rate, step)
        p95_ms = round(p95(latencies) * 1000, 1)
        met = p95_ms <= target_ms and set(statuses) == {200}
        steps.append({"offered_per_s": rate, "answered_per_s": round(len(latencies) / step, 1),
                      "p50_ms": round(statistics.median(latencies) * 1000, 1),
                      "p95_ms": p95_ms, "statuses": statuses, "met": met,
                      "load_1": round(os.getloadavg()[0], 1)})
        print(json.dumps(steps[-1]), file=sys.stderr, flush=True)
        if len(steps) >= 2 and not met and not steps[-2]["met"]:
            break
    best = max((s["answered_per_s"] for s in steps if s["met"]), default=0.0)
    return {"steps": steps, "target_p95_ms": target_ms, "capacity_per_s": best,
            "capacity_per_worker_per_s": round(best / max(1, workers), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0, help="whole run (both phases)")
    parser.add_argument("--interval", type=float, default=1.0,
                        help="seconds between two requests of one agency")
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite file)")
    parser.add_argument("--workers", type=int, default=0,
                        help="serve with gunicorn -w N (default 0: popstats serve's server)")
    parser.add_argument("--capacity", default=None,
                        help="offered rates (requests/s, all agencies), e.g. 10,20,40,60,80: "
                             "measure the capacity at the p95 target instead")
    parser.add_argument("--step", type=float, default=10.0, help="seconds per capacity step")
    parser.add_argument("--target-ms", type=float, default=50.0)
    args = parser.parse_args()
    rates = [float(r) for r in args.capacity.split(",")] if args.capacity else None
    if rates is not None:  # count every request, refuse none (module description)
        os.environ["POPSTATS_API_RATE_LIMIT"] = "1000000"
        os.environ["POPSTATS_API_AGENCY_RATE_LIMIT"] = "none"
    data = args.data or Path(tempfile.mkdtemp(prefix="api_latency_"))
    data.mkdir(parents=True, exist_ok=True)
    db_url, _size, cleanup = database(data, args.db)
    try:
        releases, _accounts = prepare(data, args.scale, db_url)
        asks = make_agencies(db_url, releases, args.agencies)
        with start_server(releases, db_url, data / "outbox", args.workers) as port:
            for token, path in asks:  # warm: every worker's first reads; each grant works
                for _ in range(max(1, args.workers)):
                    assert get(port, path, token)[0] == 200, path
            result = (run_ramp(port, asks, rates, args.step, args.target_ms, args.workers)
                      if rates else run_phases(port, asks, args.seconds, args.interval))
    finally:
        cleanup()
    result.update({"scale": args.scale, "agencies": args.agencies,
                   "database": "postgresql" if args.db else "sqlite",
                   "server": f"gunicorn -w {args.workers}" if args.workers else "popstats serve",
                   "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
                   "cores": os.cpu_count()})
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
