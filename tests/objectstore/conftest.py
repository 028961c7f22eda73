"""A real S3 server on 127.0.0.1 (moto's, from PyPI) for the whole run, and a fresh bucket
per test; the AWS_* variables point obstore and polars (and any popstats process started
from a test) at it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

MOTO = Path(sys.executable).with_name("moto_server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on port {port} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port} within {seconds} s")


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """moto_server on a free port; yields the AWS_* variables that reach it."""
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with log.open("wb") as out:
        server = subprocess.Popen([str(MOTO), "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_port(port, server)
        yield {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
               "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ALLOW_HTTP": "true"}
    finally:
        server.terminate()
        server.wait(10)


@pytest.fixture
def bucket(s3_endpoint: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> str:
    """A new, empty bucket (its name); the environment set to reach the server."""
    for key, value in s3_endpoint.items():
        monkeypatch.setenv(key, value)
    return make_bucket(s3_endpoint)


def make_bucket(endpoint: dict[str, str]) -> str:
    """Create a bucket with a new name on the server; its name."""
    import boto3

    name = f"popstats-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint["AWS_ENDPOINT_URL"], region_name="us-east-1",
                 aws_access_key_id=endpoint["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=endpoint["AWS_SECRET_ACCESS_KEY"]).create_bucket(Bucket=name)
    return name


def keys(bucket: str, prefix: str = "") -> list[str]:
    """Every key in the bucket under ``prefix`` (read with boto3, not with popstats)."""
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                          region_name="us-east-1")
    found: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        found += [item["Key"] for item in page.get("Contents", [])]
    return sorted(found)


def popstats(*args: str) -> str:
    """Run a popstats command in this process; its output (it must succeed)."""
    from click.testing import CliRunner

    from popstats.cli import main

    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def publish_sample(folder: Path, releases: str, db: str) -> dict[str, dict]:
    """A tiny month (2025-03) sampled into ``folder``, built into ``releases`` and published;
    the demo accounts made in ``db``, by user name (the environment must reach the bucket)."""
    popstats("sample", "--out", str(folder), "--scale", "0.002", "--start", "2025-03",
             "--months", "1")
    popstats("build", "--input", str(folder), "--period", "2025-03", "--out", releases)
    popstats("publish", "--releases", releases, "--period", "2025-03", "--by", "stat")
    return {a["username"]: a for a in json.loads(popstats("demo-accounts", "--db", db, "--json"))}
