"""Benchmark: 20 logged-in users on the dashboards under gunicorn (4 workers), over loopback.

    python benchmarks/dashboard_load.py            # national scale (23.4 M residents), 60 s
    python benchmarks/dashboard_load.py --quick    # scale 0.05, 15 s: a smoke run
    python benchmarks/dashboard_load.py --data DIR --db postgresql+psycopg://USER@HOST/DB

The release is reused from ``--data`` (default ``benchmarks/out/dashboard_load[-quick]``)
when its second month is already built, else ``popstats sample`` writes two months and
``popstats build`` + ``publish`` make the second. The server is the production command of
docs/deployment.md: ``gunicorn -w 4 dashboards.wsgi:app`` with the ``POPSTATS_*`` variables.

Each user logs in through the real form (its CSRF token, then the session's), then loops
over the pages the load is about — overview, pyramid, trends, map, whichever its navigation
offers — the way the browser does: the page-routing callback returns the page's layout, and
every callback the new layout triggers is called in dependency order with the layout's
values (chained outputs feed later inputs), a random option picked in each selector first,
so users wander over areas, levels, bands and measures within their grants. The peer, in
the same run by the same users, is the shell's ``remember_page`` callback: session check,
CSRF check and Dash dispatch with no data behind it — each callback's p95 over the peer's
says what reading, slicing, auditing and drawing add to the fixed cost of a request.

Reported per callback: count, p50 / p95 / p99 latency and errors (non-2xx) over the warm
passes (each user's first pass over its pages is cold: first reads of national tables),
the cold maximum, the workers' RSS at start and end, and CPU used by server and load
generator (they share this machine's cores). Target (issue 5): p95 ≤ 150 ms warm, no
errors. Not a test: the figures go into the issue notes.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import psutil

ROOT = Path(__file__).resolve().parents[1]
MONTHS = ("2025-01", "2025-02")  # sampled; the second is built and published
LOAD_PAGES = ("/", "/pyramid", "/trends", "/map")
ROUTING_OUTPUT = "_pages_content"  # Dash pages' routing callback writes the page layout here
PEER_OUTPUT = "shell-language-next.value"  # the shell's remember_page
ACCOUNTS = ("moi_official", "national_user", "taipei_user", "kaohsiung_user",
            "taipei_official", "kaohsiung_official")
TARGET_P95_S = 0.150


# ------------------------------------------------------------------ data and server


def popstats(*args: str) -> str:
    """Run the ``popstats`` command of this checkout; its standard output."""
    done = subprocess.run([sys.executable, "-m", "popstats.cli", *args], cwd=ROOT, check=True,
                          stdout=subprocess.PIPE, text=True)
    return done.stdout


def prepare_release(data: Path, scale: float) -> Path:
    """The releases folder with the second month published (sampled and built if absent)."""
    releases, extract = data / "releases", data / "extract"
    if not (releases / MONTHS[-1] / "manifest.json").exists():
        if not (extract / f"residents_{MONTHS[-1].replace('-', '')}.parquet").exists():
            print(f"sampling two months at scale {scale} into {extract} …", flush=True)
            popstats("sample", "--out", str(extract), "--scale", str(scale),
                     "--start", MONTHS[0], "--months", str(len(MONTHS)))
        print(f"building {MONTHS[-1]} …", flush=True)
        popstats("build", "--input", str(extract), "--period", MONTHS[-1],
                 "--out", str(releases))
    states = json.loads(popstats("releases", "--releases", str(releases), "--json"))
    if not any(r["period"] == MONTHS[-1] and r["state"] == "published" for r in states):
        popstats("publish", "--releases", str(releases), "--period", MONTHS[-1],
                 "--by", "benchmark")
    return releases


def demo_passwords(db_url: str) -> dict[str, str]:
    """(Re)create the demo accounts in ``db_url``; username -> password."""
    records = json.loads(popstats("demo-accounts", "--db", db_url, "--json"))
    return {r["username"]: r["password"] for r in records}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def gunicorn(releases: Path, db_url: str, outbox: Path, workers: int,
             port: int) -> Iterator[psutil.Process]:
    """``gunicorn -w N dashboards.wsgi:app`` configured as in production; the master."""
    env = {**os.environ, "POPSTATS_RELEASES": str(releases), "POPSTATS_DB": db_url,
           "POPSTATS_OUTBOX": str(outbox)}
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--no-control-socket", "--timeout", "120", "dashboards.wsgi:app"]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        master = psutil.Process(server.pid)
        deadline = time.monotonic() + 120
        while len(master.children()) < workers or not _answers(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"gunicorn did not start: {' '.join(command)}")
            time.sleep(0.2)
        yield master
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def _answers(port: int) -> bool:
    try:
        return Client(port).request("GET", "/login")[0] == 200
    except OSError:
        return False


# ------------------------------------------------------------------ a browser, by hand


@dataclass
class Client:
    """One user's cookies and requests (a new connection per request: sync workers close)."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request, cookies kept as a browser would."""
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            connection.request(method, path, body, sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key] = rest.split(";", 1)[0]
        return response.status, data, seconds

    def login(self, username: str, password: str) -> None:
        """The real form: GET for its CSRF token, then POST; a 303 to / means logged in."""
        status, page, _ = self.request("GET", "/login")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page)
        assert status == 200 and token, f"no login form ({status})"
        form = urllib.parse.urlencode({"username": username, "password": password,
                                       "csrf_token": token.group(1).decode()}).encode()
        status, _, _ = self.request("POST", "/login", form,
                                    {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 303, f"login of {username} answered {status}"

    def callback(self, body: dict[str, Any]) -> tuple[int, bytes, float]:
        return self.request("POST", "/_dash-update-component", json.dumps(body).encode(),
                            {"Content-Type": "application/json",
                             "X-CSRFToken": self.cookies.get("_csrf_token", "")})


# ------------------------------------------------------------------ Dash's protocol (pure)


def outputs_of(dependency: dict[str, Any]) -> list[tuple[str, str]]:
    """(id, property) of each output of a ``_dash-dependencies`` entry."""
    spec = dependency["output"]
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    return [tuple(part.rsplit(".", 1)) for part in parts]  # type: ignore[misc]


def callback_name(dependency: dict[str, Any]) -> str:
    """A readable name: output ids with their properties (``map-status.children+…``)."""
    grouped: dict[str, list[str]] = {}
    for component, prop in outputs_of(dependency):
        grouped.setdefault(component, []).append(prop)
    return " & ".join(f"{c}.{'+'.join(props)}" for c, props in grouped.items())


def request_body(dependency: dict[str, Any], values: dict[str, dict[str, Any]],
                 changed: list[str]) -> dict[str, Any]:
    """The ``/_dash-update-component`` body the renderer sends for ``dependency``."""
    outs = [{"id": c, "property": p} for c, p in outputs_of(dependency)]

    def current(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{"id": i["id"], "property": i["property"],
                 "value": values.get(i["id"], {}).get(i["property"])} for i in items]

    return {"output": dependency["output"], "outputs": outs if len(outs) > 1 else outs[0],
            "inputs": current(dependency["inputs"]), "state": current(dependency["state"]),
            "changedPropIds": changed}


def components(tree: Any) -> dict[str, dict[str, Any]]:
    """id -> props of every component with a plain string id in a Dash layout tree."""
    found: dict[str, dict[str, Any]] = {}
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            props = node.get("props") if "type" in node else None
            if isinstance(props, dict) and isinstance(props.get("id"), str):
                found[props["id"]] = dict(props)
            stack.extend(node.values())
    return found


def triggered_by_layout(dependencies: list[dict[str, Any]],
                        present: set[str]) -> list[dict[str, Any]]:
    """The callbacks a new layout fires, in the order the renderer resolves them: all of
    a callback's inputs and states are in the layout, and any callback feeding one of its
    inputs runs first."""
    fired = [d for d in dependencies
             if not d.get("prevent_initial_call") and d.get("clientside_function") is None
             and d["inputs"]
             and all(isinstance(i["id"], str) and i["id"] in present
                     for i in d["inputs"] + d["state"])]
    ordered: list[dict[str, Any]] = []
    while fired:
        pending_outputs = {o for d in fired for o in outputs_of(d)}
        ready = [d for d in fired if not any(
            (i["id"], i["property"]) in pending_outputs and d not in _producers(fired, i)
            for i in d["inputs"])]
        ready = ready or fired[:1]  # a cycle: let the first go, as the renderer would
        ordered += ready
        fired = [d for d in fired if d not in ready]
    return ordered


def _producers(dependencies: list[dict[str, Any]], item: dict[str, str]) -> list[dict[str, Any]]:
    return [d for d in dependencies if (item["id"], item["property"]) in outputs_of(d)]


def wander(values: dict[str, dict[str, Any]], fed: set[str], rng: random.Random) -> None:
    """Pick a random option in every single-choice selector no callback fills in."""
    for component, props in values.items():
        options = props.get("options")
        if component in fed or not isinstance(options, list) or not options \
                or isinstance(props.get("value"), list):
            continue
        choice = rng.choice(options)
        if isinstance(choice, dict) and not choice.get("disabled"):
            props["value"] = choice.get("value")
        elif isinstance(choice, str | int | float):
            props["value"] = choice


def apply_answer(values: dict[str, dict[str, Any]], answer: bytes) -> None:
    """Put a callback's answer into the page's current values (what the renderer does)."""
    if not answer:
        return  # 204: PreventUpdate
    for component, props in json.loads(answer).get("response", {}).items():
        values.setdefault(component, {}).update(props)


# ------------------------------------------------------------------ the load


@dataclass(frozen=True)
class Sample:
    user: int
    name: str
    seconds: float
    status: int
    warm: bool


def visit(client: Client, routing: dict[str, Any], dependencies: list[dict[str, Any]],
          path: str, rng: random.Random, record: Any) -> None:
    """Open ``path`` as the renderer does: routing callback, then what the layout fires."""
    values: dict[str, dict[str, Any]] = {"_pages_location": {"pathname": path, "search": ""}}
    status, answer, seconds = client.callback(
        request_body(routing, values, ["_pages_location.pathname"]))
    record(f"page layout {path}", seconds, status)
    if status != 200:
        return
    apply_answer(values, answer)
    layout = values.get(ROUTING_OUTPUT, {}).get("children")
    values.update(components(layout))
    page_callbacks = [d for d in dependencies if d is not routing
                      and not all(i["id"] == "_pages_location" for i in d["inputs"])]
    fired = triggered_by_layout(page_callbacks, set(values))  # the shell's: measured apart
    wander(values, {c for d in fired for c, _ in outputs_of(d)}, rng)
    for dependency in fired:
        status, answer, seconds = client.callback(request_body(dependency, values, []))
        record(callback_name(dependency), seconds, status)
        if 200 <= status < 300:
            apply_answer(values, answer)


def offered_pages(client: Client) -> list[str]:
    """The load pages this user's navigation offers (the shell layout's links)."""
    status, layout, _ = client.request("GET", "/_dash-layout")
    assert status == 200, f"/_dash-layout answered {status}"
    hrefs: set[str] = set()
    stack = [json.loads(layout)]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("href"), str):
                hrefs.add(node["href"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    pages = [p for p in LOAD_PAGES if p in hrefs]
    assert pages, f"the navigation offers none of {LOAD_PAGES}"
    return pages


def user(number: int, port: int, username: str, password: str, until: float, think: float,
         samples: list[Sample], lock: threading.Lock, failures: list[str]) -> None:
    """One logged-in user looping over its pages until ``until`` (monotonic)."""
    try:
        client, rng = Client(port), random.Random(number)
        client.login(username, password)
        status, raw, _ = client.request("GET", "/_dash-dependencies")
        assert status == 200, f"/_dash-dependencies answered {status}"
        dependencies = json.loads(raw)
        routing = next(d for d in dependencies if d["output"].startswith(f"..{ROUTING_OUTPUT}"))
        peer = next(d for d in dependencies if d["output"] == PEER_OUTPUT)
        pages, warm = offered_pages(client), False
        while time.monotonic() < until:
            for path in pages:
                def record(name: str, seconds: float, status: int, warm: bool = warm) -> None:
                    with lock:
                        samples.append(Sample(number, name, seconds, status, warm))

                visit(client, routing, dependencies, path, rng, record)
                status, _, seconds = client.callback(
                    request_body(peer, {"_pages_location": {"pathname": path}},
                                 ["_pages_location.pathname"]))
                record("peer: shell remember_page", seconds, status)
                if think:
                    time.sleep(rng.uniform(0.5, 1.5) * think)
                if time.monotonic() >= until:
                    return
            warm = True
    except Exception as error:  # noqa: BLE001 - reported, the run goes on
        with lock:
            failures.append(f"user {number} ({username}): {error!r}")


def latency_table(samples: list[Sample]) -> pl.DataFrame:
    """Per callback, warm passes only: count, p50/p95/p99 (ms), errors, ratio to the peer."""
    frame = pl.DataFrame([s.__dict__ for s in samples],
                         schema={"user": pl.Int64, "name": pl.String, "seconds": pl.Float64,
                                 "status": pl.Int64, "warm": pl.Boolean})
    ms = pl.col("seconds") * 1000
    cold = frame.filter(~pl.col("warm")).group_by("name").agg(ms.max().alias("cold_max_ms"))
    table = (
        frame.filter(pl.col("warm")).group_by("name").agg(
            pl.len().alias("count"),
            ms.quantile(0.50, "nearest").alias("p50_ms"),
            ms.quantile(0.95, "nearest").alias("p95_ms"),
            ms.quantile(0.99, "nearest").alias("p99_ms"),
            ((pl.col("status") < 200) | (pl.col("status") >= 300)).sum().alias("errors"),
        )
        .join(cold, on="name", how="left")
        .sort("name")
    )
    peer = table.filter(pl.col("name").str.starts_with("peer:"))["p95_ms"]
    peer_p95 = peer.item() if peer.len() == 1 else None
    return table.with_columns(
        (pl.col("p95_ms") / peer_p95).round(1).alias("p95_vs_peer") if peer_p95
        else pl.lit(None, pl.Float64).alias("p95_vs_peer"))


def worker_rss_mb(master: psutil.Process) -> list[float]:
    return sorted(round(w.memory_info().rss / 2**20, 1) for w in master.children())


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with_children = process.cpu_times()
        total += with_children.user + with_children.system
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scale 0.05 for 15 s")
    parser.add_argument("--data", type=Path, default=None,
                        help="work folder (reused when it holds the release)")
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean pause after each page view, s (0: back to back)")
    parser.add_argument("--db", default=None,
                        help="access database URL (default: a fresh SQLite file in --data)")
    args = parser.parse_args()
    scale = args.scale or (0.05 if args.quick else 1.0)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    data = args.data or ROOT / "benchmarks" / "out" / (
        "dashboard_load-quick" if args.quick else "dashboard_load")
    data.mkdir(parents=True, exist_ok=True)
    releases = prepare_release(data, scale)
    if args.db is None:
        (data / "access.db").unlink(missing_ok=True)  # a fresh audit log for every run
    db_url = args.db or f"sqlite:///{data / 'access.db'}"
    passwords = demo_passwords(db_url)
    shutil.rmtree(data / "outbox", ignore_errors=True)

    port = free_port()
    with gunicorn(releases, db_url, data / "outbox", args.workers, port) as master:
        rss_start = worker_rss_mb(master)
        servers = [master, *master.children()]
        cpu_server_start, cpu_self_start = cpu_seconds(servers), cpu_seconds([psutil.Process()])
        samples: list[Sample] = []
        failures: list[str] = []
        lock = threading.Lock()
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=user, args=(
            n, port, ACCOUNTS[n % len(ACCOUNTS)], passwords[ACCOUNTS[n % len(ACCOUNTS)]],
            until, args.think, samples, lock, failures)) for n in range(args.users)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        rss_end = worker_rss_mb(master)
        cpu_server = cpu_seconds(servers) - cpu_server_start
        cpu_self = cpu_seconds([psutil.Process()]) - cpu_self_start

    table = latency_table(samples)
    pl.Config.set_tbl_rows(100)
    pl.Config.set_tbl_width_chars(160)
    pl.Config.set_fmt_str_lengths(70)
    pl.Config.set_tbl_hide_dataframe_shape(True)
    print(f"\n{args.users} users × {elapsed:.0f} s against gunicorn -w {args.workers} "
          f"(scale {scale}, release {MONTHS[-1]}, think {args.think} s, {db_url.split(':')[0]}); "
          f"{len(samples):,} requests, {len(samples) / elapsed:.0f}/s; warm passes only:")
    print(table.with_columns(pl.col(pl.Float64).round(1)))
    print(f"workers RSS (MiB) start {rss_start} = {sum(rss_start):.0f}; "
          f"end {rss_end} = {sum(rss_end):.0f}")
    print(f"CPU over the run: server {cpu_server:.0f} s, load generator {cpu_self:.0f} s, "
          f"on {psutil.cpu_count()} cores × {elapsed:.0f} s")
    slow = table.filter(pl.col("p95_ms") > TARGET_P95_S * 1000)["name"].to_list()
    errors = int(table["errors"].sum())
    print(f"target p95 ≤ {TARGET_P95_S * 1000:.0f} ms warm: "
          + ("met" if not slow else f"missed by {slow}") + f"; errors: {errors}")
    for failure in failures:
        print(f"FAILED {failure}")
    results = {"users": args.users, "seconds": elapsed, "scale": scale, "think": args.think,
               "db": db_url.split(":")[0], "rss_start_mb": rss_start, "rss_end_mb": rss_end,
               "cpu_server_s": cpu_server, "cpu_load_generator_s": cpu_self,
               "callbacks": table.to_dicts(), "failures": failures}
    (data / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
