"""What serving from object storage costs one worker: the online query API answered by one
``gunicorn -w 1 dashboards.wsgi:app`` (production's worker) from releases in a local folder
and from the same releases in an S3 bucket (moto's server on 127.0.0.1, from PyPI), with
``--clients`` agencies asking at once for one township's population as fast as answers come.

Prints requests/s, p50 and p95 for both, one JSON line each. moto is a Python server, slower
than S3 or MinIO per request, so the bucket's numbers are a floor for a real store nearby.

    python benchmarks/s3_serving.py --scale 0.02 --clients 8 --seconds 15
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERIOD = "2025-03"
PATH = f"/api/v1/tables/population?period={PERIOD}&area_code=63000010"  # 臺北市松山區


def popstats(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "popstats.cli", *args], cwd=ROOT, env=env,
                          check=True, stdout=subprocess.PIPE, text=True).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"nothing listening on {port}")


def get(port: int, token: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", PATH, headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        answer.read()
        return answer.status, time.perf_counter() - started
    finally:
        conn.close()


def load(port: int, tokens: list[str], seconds: float) -> dict[str, float]:
    for token in tokens:  # warm: each worker's first read of the table
        get(port, token)
    times: list[float] = []
    errors = [0]
    until = time.monotonic() + seconds
    lock = threading.Lock()

    def client(token: str) -> None:
        while time.monotonic() < until:
            status, took = get(port, token)
            with lock:
                times.append(took)
                errors[0] += status != 200

    threads = [threading.Thread(target=client, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    times.sort()
    return {"requests_per_s": round(len(times) / seconds, 1),
            "p50_ms": round(1000 * times[len(times) // 2], 1),
            "p95_ms": round(1000 * times[int(len(times) * 0.95)], 1), "errors": errors[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="popstats-s3-bench-"))
    s3_port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
           "AWS_ALLOW_HTTP": "true", "POPSTATS_API_RATE_LIMIT": "1000000",
           "POPSTATS_API_AGENCY_RATE_LIMIT": "none", "POPSTATS_API_DAILY_BYTES": "none"}
    moto = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H",
                             "127.0.0.1", "-p", str(s3_port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait(s3_port)
        import boto3

        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                     aws_access_key_id="bench", aws_secret_access_key="bench"
                     ).create_bucket(Bucket=bucket)
        popstats(env, "sample", "--out", str(work / "x"), "--scale", str(args.scale), "--start",
                 PERIOD, "--months", "1")
        db = f"sqlite:///{work / 'access.db'}"
        accounts = json.loads(popstats(env, "demo-accounts", "--db", db, "--json"))
        token = next(a["token"] for a in accounts if a["username"] == "taipei_user")
        for where in (str(work / "releases"), f"s3://{bucket}/releases"):
            popstats(env, "build", "--input", str(work / "x"), "--period", PERIOD, "--out", where)
            popstats(env, "publish", "--releases", where, "--period", PERIOD, "--by", "bench")
            port = free_port()
            server = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", "1", "-b", f"127.0.0.1:{port}",
                 "--timeout", "120", "dashboards.wsgi:app"], cwd=ROOT,
                stdout=subprocess.DEVNULL, stderr=(work / "gunicorn.log").open("ab"),
                env={**env, "POPSTATS_RELEASES": where, "POPSTATS_DB": db,
                     "POPSTATS_OUTBOX": str(work / "outbox")})
            try:
                wait(port)
                result = load(port, [token] * args.clients, args.seconds)
            finally:
                server.terminate()
                server.wait(20)
            print(json.dumps({"releases": "s3 (moto)" if where.startswith("s3") else "local",
                              "scale": args.scale, "clients": args.clients, **result}),
                  flush=True)
    finally:
        moto.terminate()
        moto.wait(10)


if __name__ == "__main__":
    main()
