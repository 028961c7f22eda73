"""Publications and builds raced by real processes: exactly one publisher wins, losers are
told who did; concurrent builds get one clear refusal; killed builds leave nothing behind;
new release folders are readable as the umask allows."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from stats.periods import Month, Period
from stats.publication import (
    PUBLICATIONS,
    PublicationConflict,
    list_releases,
    publish,
    read_log,
)
from stats.problems import ValidationError
from stats.release import BuildRunning, build_lock, build_release, read_manifest
from tests.helpers import person, tiny_codes, write_extract

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
V1 = "63000010001"


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    people = [person(f"p{i}", V1, born=date(1970 + i % 40, 1, 1)) for i in range(50)]
    return write_extract(tmp_path / "x", {Month(2024, 2): people, Month(2024, 3): people},
                         {Month(2024, 3): []})


@pytest.fixture
def releases(extract: Path, tmp_path: Path) -> Path:
    out = tmp_path / "rel"
    build_release(extract, Period.parse("2024-03"), out, tiny_codes())
    return out


def _publisher(args: tuple[str, int, bool, object]) -> tuple[str, str]:
    releases, index, later, barrier = args
    barrier.wait()  # type: ignore[attr-defined]  # all four start together
    at = NOW + timedelta(days=3) if later else None
    try:
        publish(Path(releases), "2024-03", by=f"stat_{index}", now=NOW, at=at)
    except PublicationConflict as exc:
        return "refused", str(exc)
    return "won", f"stat_{index}"


@pytest.mark.parametrize("round_", range(3))
def test_of_four_racing_publishers_exactly_one_wins_and_the_others_learn_who(releases, round_):
    ctx = multiprocessing.get_context("spawn")  # separate interpreters, as four CLI runs
    with ctx.Manager() as manager:
        barrier = manager.Barrier(4)
        with ctx.Pool(4) as pool:
            # two publish now, two embargo three days ahead: the mixed race
            outcomes = pool.map(_publisher, [(str(releases), i, i % 2 == 1, barrier)
                                             for i in range(4)])
    winners = [who for verdict, who in outcomes if verdict == "won"]
    assert len(winners) == 1, outcomes
    refusals = [text for verdict, text in outcomes if verdict == "refused"]
    assert len(refusals) == 3
    for text in refusals:
        assert winners[0] in text and "nothing was changed" in text
    log = read_log(releases, "2024-03")
    assert [(r["revision"], r["by"]) for r in log] == [(1, winners[0])]
    # what the winner was told is what stands
    row = list_releases(releases, NOW)[0]
    assert row["published_by"] == winners[0]
    assert row["state"] == ("scheduled" if int(winners[0][-1]) % 2 else "published")


def test_publishing_leaves_the_revision_folder_untouched(releases):
    folder = (releases / "2024-03").resolve()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    publish(releases, "2024-03", by="stat_a", now=NOW)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.iterdir()}
    assert after == before
    assert (releases / ".revisions" / "2024-03" / PUBLICATIONS).exists()


def test_a_scheduled_publication_is_refused_unless_rescheduled(releases):
    publish(releases, "2024-03", by="stat_a", now=NOW, at=NOW + timedelta(days=3))
    with pytest.raises(PublicationConflict, match="scheduled by stat_a .*--reschedule"):
        publish(releases, "2024-03", by="stat_b", now=NOW)
    publish(releases, "2024-03", by="stat_b", now=NOW, at=NOW + timedelta(days=1), reschedule=True)
    assert [(r["by"], r["at"]) for r in read_log(releases, "2024-03")] == [
        ("stat_a", "2026-12-10T02:00:00+00:00"), ("stat_b", "2026-12-08T02:00:00+00:00")]
    assert list_releases(releases, NOW + timedelta(days=1))[0]["state"] == "published"
    with pytest.raises(PublicationConflict, match="already published by stat_b"):
        publish(releases, "2024-03", by="stat_c", now=NOW + timedelta(days=1), reschedule=True)


def test_a_release_published_before_the_log_still_reads_as_published(releases):
    """Releases written by earlier versions carry the publication in their manifest."""
    folder = (releases / "2024-03").resolve()
    manifest = read_manifest(folder)
    manifest["publication"] = {"at": "2025-04-10T01:00:00+00:00", "by": "old.stat",
                               "recorded_at": "2025-04-01T01:00:00+00:00", "note": "old"}
    manifest["status"] = "published"
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    before = datetime(2025, 4, 10, 0, 59, 59, tzinfo=UTC)
    assert list_releases(releases, before)[0]["state"] == "scheduled"
    row = list_releases(releases, before + timedelta(seconds=1))[0]
    assert (row["state"], row["published_by"], row["published_at"]) == (
        "published", "old.stat", "2025-04-10T01:00:00+00:00")
    with pytest.raises(PublicationConflict, match="already published by old.stat"):
        publish(releases, "2024-03", by="x", now=NOW)


def test_a_torn_last_log_line_from_a_killed_writer_is_ignored(releases):
    log = releases / ".revisions" / "2024-03" / PUBLICATIONS
    log.write_text('{"period": "2024-03", "revision": 1, "at": "2026-12', encoding="utf-8")
    assert list_releases(releases, NOW)[0]["state"] == "draft"
    publish(releases, "2024-03", by="stat_a", now=NOW)
    assert [r["by"] for r in read_log(releases, "2024-03")] == ["stat_a"]


# --- builds ---------------------------------------------------------------------------------

BUILD = (
    "import sys; from pathlib import Path; from stats.periods import Period;"
    "from stats.release import build_release; from tests.helpers import tiny_codes;"
    "build_release(Path(sys.argv[1]), Period.parse('2024-03'), Path(sys.argv[2]), tiny_codes())"
)


def test_a_second_build_of_a_period_is_refused_naming_the_running_ones_pid(releases, extract):
    holder = subprocess.Popen(  # a real process holding the build lock, as a running build
        [sys.executable, "-c", "import sys, time; from pathlib import Path;"
         "from stats.release import build_lock;"
         "cm = build_lock(Path(sys.argv[1]), '2024-03'); cm.__enter__();"
         "print('locked', flush=True); time.sleep(60)", str(releases)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(BuildRunning, match=f"a build of 2024-03 is running, pid {holder.pid}"):
            build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
        cli = subprocess.run(
            [sys.executable, "-m", "popstats.cli", "build", "--input", str(extract), "--period",
             "2024-03", "--out", str(releases)],
            cwd=ROOT, capture_output=True, text=True)
        assert cli.returncode == 1
        assert f"a build of 2024-03 is running, pid {holder.pid}" in cli.stderr
        assert "Traceback" not in cli.stderr
    finally:
        holder.kill()
        holder.communicate()
    # the lock died with its holder: the next build runs
    assert build_release(extract, Period.parse("2024-03"), releases, tiny_codes()).revision == 2


def test_folders_of_killed_builds_are_cleared_by_the_next_build(releases, extract):
    period_dir = releases / ".revisions" / "2024-03"
    dead = period_dir / ".building-x1y2z3"
    dead.mkdir()
    (dead / "population.parquet").write_bytes(b"half")
    stray_link = releases / ".2024-03.link-999999"
    stray_link.symlink_to(".revisions/2024-03/r0001")
    build_release(extract, Period.parse("2024-03"), releases, tiny_codes())
    assert not dead.exists() and not stray_link.is_symlink()
    assert sorted(p.name for p in period_dir.iterdir() if p.name.startswith(("r", ".b"))) == [
        ".build.lock", "r0001", "r0002"]


def test_new_release_folders_and_files_follow_the_umask(extract, tmp_path):
    script = ("import os, sys; os.umask(0o022);" + BUILD)
    subprocess.run([sys.executable, "-c", script, str(extract), str(tmp_path / "rel")],
                   cwd=ROOT, check=True)
    folder = (tmp_path / "rel" / "2024-03").resolve()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path.name
    publish(tmp_path / "rel", "2024-03", by="a", now=NOW)  # this process's umask
    log = tmp_path / "rel" / ".revisions" / "2024-03" / PUBLICATIONS
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(log.stat().st_mode) == 0o666 & ~mask
    # a group-shared umask gives the group read access to everything
    subprocess.run([sys.executable, "-c", "import os, sys; os.umask(0o027);" + BUILD,
                    str(extract), str(tmp_path / "rel")], cwd=ROOT, check=True)
    folder = (tmp_path / "rel" / "2024-03").resolve()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE((folder / "manifest.json").stat().st_mode) == 0o640


def test_build_lock_is_reentrant_for_nobody(releases):
    """The lock is per period and exclusive even within one process (flock per open file)."""
    with build_lock(releases, "2024-03"):
        with pytest.raises(BuildRunning, match=f"pid {os.getpid()}"):
            with build_lock(releases, "2024-03"):
                pass


def test_a_failed_first_build_of_a_period_leaves_no_folder_behind(releases, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()  # no extract files at all: validation refuses
    before = sorted(p.relative_to(releases) for p in releases.rglob("*"))
    with pytest.raises(ValidationError, match="problems in the extract"):
        build_release(broken, Period.parse("2024-04"), releases, tiny_codes())
    assert sorted(p.relative_to(releases) for p in releases.rglob("*")) == before
