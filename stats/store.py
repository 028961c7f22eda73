"""Where releases and delivery files are kept: a local folder, or an S3-compatible bucket.

A local place is a ``pathlib.Path`` and everything about it stays as it was (revision
folders renamed into place, ``RELEASES/P`` a symlink, the publication log under ``flock``).
A place in a bucket, ``s3://bucket/prefix``, is an :class:`ObjectPath`: it answers the few
``Path`` questions the release code asks (``/``, ``name``, ``parent``, ``exists``,
``is_dir``, ``iterdir``, ``read_text``/``read_bytes``, ``write_bytes``, ``unlink``,
``resolve``) from the bucket, so the readers need no second code path, and
``os.fspath`` gives its ``s3://`` URL, which polars scans directly.

An object store has no rename and no symlink, so the two atomic steps are done another way:

* a revision's objects are put first and its ``manifest.json`` last, and a revision
  without a manifest does not exist for readers (:func:`complete_revisions`);
* the pointer ``RELEASES/P`` is one small object naming the current revision
  (``{"popstats_pointer": ".revisions/P/r0002"}``), replaced by one PUT after the manifest:
  a PUT is atomic, so a reader sees the old pointer or the new one, never half of one;
* :meth:`ObjectPath.put_if_absent` is a conditional PUT (``If-None-Match: *``): of two
  writers of the same key exactly one succeeds. Locks and the publication log use it.

Credentials and the endpoint come from the usual variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``, ``AWS_ENDPOINT_URL``; ``AWS_ALLOW_HTTP=true`` for
a server without TLS), read by obstore and by polars alike.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

SCHEME = "s3://"
POINTER_KEY = "popstats_pointer"
POINTER_MAX = 1024  # a pointer object is a few dozen bytes; anything longer is data


class StoreError(OSError):
    """The object store could not be reached or refused the request."""


@cache
def _bucket(bucket: str) -> Any:
    """One obstore client per bucket (configured from the AWS_* environment).

    Bounded waits: a store that does not answer fails a request within about half a minute
    (a few retries), so a health check or a page says so instead of hanging for obstore's
    default three minutes."""
    from obstore.store import S3Store

    options: dict[str, Any] = {"connect_timeout": "5s", "timeout": "300s"}
    allow_http = os.environ.get("AWS_ALLOW_HTTP")
    if allow_http is not None:  # given client options replace the environment's, so pass it on
        options["allow_http"] = allow_http.strip().lower() == "true"
    return S3Store(bucket, client_options=options,
                   retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=20)})


def _errors() -> tuple[type[BaseException], ...]:
    import obstore.exceptions as oe

    return (oe.BaseError,)


class ObjectPath(str):
    """A key (or a key prefix: a "folder") in an S3-compatible bucket.

    It is the string of its ``s3://`` URL (normalised), so polars, ``json`` and ``str()``
    take it as they take the URL; the ``Path`` methods ask the bucket."""

    def __new__(cls, url: str, _kind: str | None = None) -> ObjectPath:
        bucket, key = _split(url)
        return super().__new__(cls, f"{SCHEME}{bucket}/{key}" if key else f"{SCHEME}{bucket}")

    def __init__(self, url: str, _kind: str | None = None) -> None:
        self.bucket, self.key = _split(url)
        self._kind = _kind  # "dir" / "file" when a listing already told

    # --- path algebra -----------------------------------------------------------------------


    def _child(self, name: str, kind: str | None = None) -> ObjectPath:
        return ObjectPath(f"{SCHEME}{self.bucket}/{self.key}/{name}" if self.key
                          else f"{SCHEME}{self.bucket}/{name}", kind)

    def __truediv__(self, other: str | os.PathLike[str]) -> ObjectPath:
        return self._child(str(other))

    def __str__(self) -> str:
        return str.__str__(self)

    def __fspath__(self) -> str:  # os.fspath takes the URL
        return str.__str__(self)

    def __repr__(self) -> str:
        return f"ObjectPath({str.__str__(self)!r})"

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1] if self.key else ""

    @property
    def parent(self) -> ObjectPath:
        head = self.key.rsplit("/", 1)[0] if "/" in self.key else ""
        return ObjectPath(f"{SCHEME}{self.bucket}/{head}")

    @property
    def parts(self) -> tuple[str, ...]:
        return (f"{SCHEME}{self.bucket}", *self.key.split("/")) if self.key else (str(self),)

    @property
    def suffix(self) -> str:
        name = self.name
        return name[name.rfind("."):] if "." in name.lstrip(".") else ""

    def relative_to(self, other: ObjectPath) -> str:
        if other.bucket != self.bucket or not (self.key + "/").startswith(other.key + "/"):
            raise ValueError(f"{self} is not inside {other}")
        return self.key[len(other.key):].lstrip("/")

    def is_absolute(self) -> bool:
        return True

    def expanduser(self) -> ObjectPath:
        return self

    # --- reading ---------------------------------------------------------------------------

    def _store(self) -> Any:
        return _bucket(self.bucket)

    def _head(self) -> dict[str, Any] | None:
        import obstore

        if not self.key:
            return None
        try:
            return obstore.head(self._store(), self.key)
        except FileNotFoundError:
            return None
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc

    def _has_children(self) -> bool:
        import obstore

        prefix = f"{self.key}/" if self.key else ""
        try:
            for batch in obstore.list(self._store(), prefix or None, chunk_size=1):
                if batch:
                    return True
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc
        return False

    def _followed(self) -> ObjectPath | None:
        """This path with a pointer among its ancestors (or itself) followed; None if none."""
        target = self.resolve()
        return None if target == self else target

    def is_file(self) -> bool:
        if self._kind is not None:
            return self._kind == "file"
        if self._head() is not None and self._pointer() is None:
            return True
        other = self._followed()
        return other.is_file() if other is not None else False

    def is_dir(self) -> bool:
        if self._kind is not None:
            return self._kind == "dir"
        if self._has_children():
            return True
        other = self._followed()
        return other.is_dir() if other is not None else False

    def exists(self) -> bool:
        return self.is_file() or self.is_dir()

    def is_symlink(self) -> bool:
        return self._pointer() is not None

    def read_bytes(self) -> bytes:
        import obstore

        try:
            data = bytes(obstore.get(self._store(), self.key).bytes())
        except FileNotFoundError:
            other = self._followed()
            if other is None:
                raise FileNotFoundError(f"{self}: no such object") from None
            return other.read_bytes()
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc
        return data

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self.read_bytes().decode(encoding, errors)

    def iterdir(self) -> Iterator[ObjectPath]:
        """The "folders" and objects directly under this prefix (pointers as files)."""
        import obstore

        try:
            found = obstore.list_with_delimiter(self._store(), self.key or None)
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc
        if not found["common_prefixes"] and not found["objects"]:
            other = self._followed()
            if other is not None:
                yield from other.iterdir()
            return
        for prefix in found["common_prefixes"]:
            yield self._child(prefix.rstrip("/").rsplit("/", 1)[-1], "dir")
        for meta in found["objects"]:
            yield self._child(meta["path"].rsplit("/", 1)[-1], "file")

    def walk_keys(self) -> list[str]:
        """Every key under this prefix, relative to it (one listing, paged by the store)."""
        import obstore

        prefix = f"{self.key}/" if self.key else ""
        try:
            return [meta["path"][len(prefix):]
                    for batch in obstore.list(self._store(), prefix or None) for meta in batch]
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc

    # --- pointers (the object store's symlinks) --------------------------------------------

    def _pointer(self) -> str | None:
        """The target a pointer object at this key names, or None."""
        import obstore

        if not self.key:
            return None
        try:
            data = bytes(obstore.get(self._store(), self.key,
                                     options={"range": (0, POINTER_MAX)}).bytes())
        except FileNotFoundError:
            return None
        except _errors() as exc:
            if "range" in str(exc).lower() or "416" in str(exc):
                return None  # an empty object
            raise StoreError(f"{self}: {_first_line(exc)}") from exc
        if not data.startswith(b"{") or len(data) >= POINTER_MAX:
            return None
        try:
            target = json.loads(data).get(POINTER_KEY)
        except (ValueError, AttributeError):
            return None
        return target if isinstance(target, str) else None

    def symlink_to(self, target: str | ObjectPath) -> None:
        """Make this key a pointer to ``target`` (relative to this key's parent): one PUT."""
        relative = target.relative_to(self.parent) if isinstance(target, ObjectPath) else target
        self.write_bytes(json.dumps({POINTER_KEY: str(relative)}).encode("utf-8"))

    def resolve(self) -> ObjectPath:
        """This path with every pointer on the way followed (a path with none: itself).

        Pointers are never put inside a hidden folder (the revisions are under
        ``.revisions/``), so only the components above the first hidden one are asked
        about: a revision's own path costs one request, not one per component."""
        parts = self.key.split("/") if self.key else []
        hidden = next((i for i, part in enumerate(parts) if part.startswith(".")), len(parts))
        for depth in range(hidden, 0, -1):
            ancestor = ObjectPath(f"{SCHEME}{self.bucket}/{'/'.join(parts[:depth])}")
            target = ancestor._pointer()
            if target is not None:
                real = ancestor.parent
                for step in target.split("/"):
                    real = real.parent if step == ".." else real / step
                rest = "/".join(parts[depth:])
                return (real / rest if rest else real).resolve()
        return self

    # --- writing ---------------------------------------------------------------------------

    def write_bytes(self, data: bytes) -> None:
        import obstore

        try:
            obstore.put(self._store(), self.key, data)
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        self.write_bytes(text.encode(encoding))

    def upload(self, local: Path) -> None:
        """Put a local file's bytes at this key (streamed in parts for a large file)."""
        import obstore

        try:
            with local.open("rb") as fh:
                obstore.put(self._store(), self.key, fh)
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc

    def put_if_absent(self, data: bytes) -> bool:
        """Create the object only if no object has this key (``If-None-Match: *``).

        Returns False when another writer got there first; nothing is changed then."""
        import obstore
        from obstore.exceptions import AlreadyExistsError, PreconditionError

        try:
            obstore.put(self._store(), self.key, data, mode="create")
        except (AlreadyExistsError, PreconditionError):
            return False
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc
        return True

    def unlink(self, missing_ok: bool = False) -> None:
        import obstore

        if not missing_ok and self._head() is None:
            raise FileNotFoundError(f"{self}: no such object")
        try:
            obstore.delete(self._store(), self.key)
        except FileNotFoundError:
            if not missing_ok:
                raise
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to do: a "folder" exists as soon as an object is put under it."""

    def rmtree(self) -> None:
        """Delete every object under this prefix."""
        import obstore

        keys = [f"{self.key}/{k}" for k in self.walk_keys()]
        try:
            for start in range(0, len(keys), 1000):
                obstore.delete(self._store(), keys[start:start + 1000])
        except _errors() as exc:
            raise StoreError(f"{self}: {_first_line(exc)}") from exc


def _split(url: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://`` URL, the key without empty or ``.`` parts."""
    if not url.startswith(SCHEME):
        raise ValueError(f"{url}: not an s3:// URL")
    bucket, _, key = url[len(SCHEME):].partition("/")
    if not bucket:
        raise ValueError(f"{url}: no bucket named (s3://bucket/prefix)")
    parts = [p for p in key.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"{url}: '..' has no meaning in an object key")
    return bucket, "/".join(parts)


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().split("\n", 1)[0]


Place = Path | ObjectPath


def place(location: str | os.PathLike[str]) -> Place:
    """``s3://…`` as an :class:`ObjectPath`, anything else as a ``Path`` (as given)."""
    if isinstance(location, ObjectPath):
        return location
    text = os.fspath(location)
    return ObjectPath(text) if text.startswith(SCHEME) else Path(text)


def is_remote(location: object) -> bool:
    """Whether ``location`` is in an object store."""
    return isinstance(location, ObjectPath)


def complete_revisions(period_dir: ObjectPath) -> list[ObjectPath]:
    """The revision "folders" ``rNNNN`` of a period that hold a manifest, oldest first.

    One listing: a build killed while putting its objects left a revision without a
    manifest, which no reader may see."""
    names: set[str] = set()
    for key in period_dir.walk_keys():
        folder, _, rest = key.partition("/")
        if folder.startswith("r") and rest == "manifest.json":
            names.add(folder)
    return [period_dir._child(name, "dir") for name in sorted(names)]


def copy_file(source: Path, target: Place) -> None:
    """Put a local file at ``target`` (a local copy is the caller's business)."""
    if isinstance(target, ObjectPath):
        target.upload(source)
    else:
        raise TypeError("copy_file puts local files into an object store only")


def parquet_source(path: Place) -> str | Path:
    """What to hand polars for a Parquet file: a Path, or the ``s3://`` URL."""
    return str(path) if isinstance(path, ObjectPath) else path


def followed(path: Place) -> Place:
    """A release folder as polars must be given it: in a bucket the pointer ``RELEASES/P``
    followed to its revision; a local path as given (the file system follows the link)."""
    return path.resolve() if isinstance(path, ObjectPath) else path
