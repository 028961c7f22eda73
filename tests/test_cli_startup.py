"""``popstats --help`` starts fast: it loads none of the heavy libraries (measured by what a
real ``popstats --help`` process imports, not by a wall clock), and still lists every
command, including the access commands loaded only when one of them runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from click.testing import CliRunner

from popstats.cli import main
from popstats.command_index import access_command_help

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "pyarrow", "numpy", "pandas", "xarray", "sqlalchemy", "flask", "dash",
         "openpyxl", "pyreadstat", "argon2", "cryptography", "access", "exports", "dashboards",
         "sample_data")


def _imported_by(*args: str) -> set[str]:
    """Top-level packages a real ``popstats ARGS`` process imports (``-X importtime``)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "popstats.cli", *args],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    names = set()
    for line in run.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "click" in names, run.stderr[-2000:]  # the measurement itself works
    return names


def test_help_imports_no_heavy_library():
    assert not _imported_by("--help") & set(HEAVY)


def test_the_release_commands_help_imports_no_heavy_library():
    for command in ("publish", "releases", "calendar", "build", "export"):
        assert not _imported_by(command, "--help") & set(HEAVY), command


def test_help_lists_every_command_with_its_own_help_line():
    listing = subprocess.run([sys.executable, "-m", "popstats.cli", "--help"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    from popstats.access_cli import register

    full = click.Group("full")
    register(full)  # what the access package adds, loaded for real here
    index = access_command_help()
    assert index is not None, "popstats.command_index no longer reads popstats/access_cli"
    assert set(index) == set(full.commands)
    for name, command in full.commands.items():
        stand_in = click.Command(name, help=index[name])
        for limit in (30, 45, 60, 80):
            assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit), name
        assert f"  {name} " in listing
    for name in ("sample", "build", "publish", "releases", "calendar", "report", "export",
                 "serve", "demo"):
        assert f"  {name} " in listing


def test_an_access_command_still_runs_when_asked_for():
    result = CliRunner().invoke(main, ["agency", "--help"])
    assert result.exit_code == 0 and "Linking agencies" in result.output
    result = CliRunner().invoke(main, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output
