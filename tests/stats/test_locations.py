"""Every place is resolved once, to an absolute path, whatever folder a command starts in."""

from __future__ import annotations

from pathlib import Path

import pytest

from stats.locations import LocationError, absolute_db_url, resolve_locations
from stats.store import ObjectPath


def test_relative_places_become_absolute_against_the_start_folder(tmp_path: Path) -> None:
    found = resolve_locations(releases="demo/releases", environ={}, base=tmp_path)
    assert found.releases == tmp_path / "demo" / "releases"
    assert found.outbox == tmp_path / "demo" / "outbox"
    assert found.db_url == f"sqlite:///{tmp_path}/popstats.db"
    assert found.boundaries is None


def test_environment_then_defaults(tmp_path: Path) -> None:
    env = {"POPSTATS_RELEASES": "r", "POPSTATS_OUTBOX": "../o", "POPSTATS_DB": "sqlite:///x/a.db",
           "POPSTATS_BOUNDARIES": "maps"}
    found = resolve_locations(environ=env, base=tmp_path / "w")
    assert found.releases == tmp_path / "w" / "r"
    assert found.outbox == tmp_path / "o"
    assert found.db_url == f"sqlite:///{tmp_path}/w/x/a.db"
    assert found.boundaries == tmp_path / "w" / "maps"
    explicit = resolve_locations(releases="/srv/rel", outbox="/srv/out", environ=env, base=tmp_path)
    assert (explicit.releases, explicit.outbox) == (Path("/srv/rel"), Path("/srv/out"))


def test_links_are_kept(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert resolve_locations(releases="link", environ={}, base=tmp_path).releases == tmp_path / "link"


@pytest.mark.parametrize("url", ["postgresql+psycopg://u@h:5432/db", "sqlite://",
                                 "sqlite:///:memory:", "sqlite:////srv/a.db"])
def test_other_urls_unchanged(url: str) -> None:
    assert absolute_db_url(url, Path("/base")) == url


def test_sqlite_query_kept() -> None:
    assert absolute_db_url("sqlite+pysqlite:///a.db?timeout=3", Path("/b")) == \
        "sqlite+pysqlite:////b/a.db?timeout=3"


def test_releases_and_the_outbox_may_be_in_an_object_store(tmp_path: Path) -> None:
    found = resolve_locations(releases="s3://bucket/a//releases/", environ={}, base=tmp_path)
    assert isinstance(found.releases, ObjectPath)
    assert str(found.releases) == "s3://bucket/a/releases"
    assert found.outbox == tmp_path / "outbox"  # none given: a local folder
    mixed = resolve_locations(releases="s3://bucket/r", outbox="out", environ={}, base=tmp_path)
    assert mixed.outbox == tmp_path / "out"
    both = resolve_locations(releases="s3://bucket/r", outbox="s3://bucket/o/", environ={})
    assert isinstance(both.outbox, ObjectPath) and str(both.outbox) == "s3://bucket/o"
    from_env = resolve_locations(releases="r", environ={"POPSTATS_OUTBOX": "s3://b/out"},
                                 base=tmp_path)
    assert isinstance(from_env.outbox, ObjectPath) and str(from_env.outbox) == "s3://b/out"
    with pytest.raises(LocationError, match="s3://"):
        resolve_locations(releases="r", outbox="s3:///no-bucket", environ={})


@pytest.mark.parametrize("bad", ["s3://", "s3:///releases", "s3://bucket/a/../b"])
def test_a_bad_bucket_url_is_refused_clearly(bad: str) -> None:
    with pytest.raises(LocationError, match="s3://"):
        resolve_locations(releases=bad, environ={})


def test_the_database_and_boundaries_stay_local() -> None:
    with pytest.raises(LocationError, match="local path"):
        resolve_locations(releases="r", boundaries="s3://bucket/maps", environ={})
