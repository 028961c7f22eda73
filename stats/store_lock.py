"""The build lock of a period whose releases are in an object store.

There is no ``flock`` on a bucket, so the lock is an object put only if absent
(``If-None-Match: *``), naming the holder's host, pid and start time, and deleted when the
build ends. A build killed without cleaning up leaves it behind: a later build on the same
host sees that the pid is gone and takes the lock over; on another host it is refused with
the holder named, and the operator deletes the object once that build is known to be dead
(the message says which object).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from stats.store import ObjectPath


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


@contextmanager
def object_build_lock(lock: ObjectPath, period: str,
                      busy: type[Exception] = RuntimeError) -> Iterator[Path]:
    """Hold ``lock`` for the build of ``period``; yields a local scratch folder to stage in.

    Raises ``busy`` at once when another live build holds it."""
    me = {"host": socket.gethostname(), "pid": os.getpid(),
          "since": datetime.now(UTC).isoformat(timespec="seconds")}
    body = json.dumps(me).encode("utf-8")
    for _ in range(2):
        if lock.put_if_absent(body):
            break
        try:
            holder = json.loads(lock.read_bytes())
        except (FileNotFoundError, ValueError):
            continue  # released meanwhile (or unreadable: try once more)
        if holder.get("host") == me["host"] and not _alive(int(holder.get("pid", 0))):
            lock.unlink(missing_ok=True)  # a killed build of this host: take over
            continue
        raise busy(f"a build of {period} is running, pid {holder.get('pid')} on "
                   f"{holder.get('host')} since {holder.get('since')}; wait for it to finish "
                   f"(each build makes a new revision), or delete {lock} if that build is "
                   "known to be dead")
    else:
        raise busy(f"could not take the build lock {lock} of {period}; try again")
    scratch = Path(tempfile.mkdtemp(prefix=f"popstats-build-{period}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        try:
            if json.loads(lock.read_bytes()) == me:
                lock.unlink(missing_ok=True)
        except (FileNotFoundError, ValueError):
            pass
