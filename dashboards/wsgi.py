"""The WSGI entry point for production servers: ``gunicorn -w 4 dashboards.wsgi:app``.

``popstats serve`` runs Werkzeug's development server in one process; a production server
imports this module once per worker instead, so everything the app needs comes from the
environment (docs/deployment.md):

``POPSTATS_RELEASES``
    the releases folder to serve (default ``demo/releases``, as ``popstats serve``);
``POPSTATS_DB``
    the access database URL, e.g. ``postgresql+psycopg://popstats@db:5432/popstats``
    (default: the embedded SQLite file ``popstats.db``; read by ``access.db.database_url``);
``POPSTATS_OUTBOX``
    where file deliveries are written (default: ``outbox`` beside the releases folder);
``POPSTATS_BOUNDARIES``
    optional TopoJSON/GeoJSON boundaries for the Map page;
``POPSTATS_SECRET_KEY``
    read by ``dashboards.web``: the key of the CSRF tokens, identical in every worker.

Relative places are made absolute once, at import, against the worker's current folder
(``stats.locations``): nothing later resolves a path against the code's own folder.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dashboards.app import ServerSettings, create_app
from stats.locations import resolve_locations


def settings_from_environment(environ: Mapping[str, str],
                              base: Path | None = None) -> ServerSettings:
    """The server settings the ``POPSTATS_*`` variables of ``environ`` describe, every path
    absolute (relative ones against ``base``, default the current folder)."""
    places = resolve_locations(environ=environ, base=base)
    return ServerSettings(releases=places.releases, db_url=places.db_url, outbox=places.outbox,
                          boundaries=places.boundaries)


# built at import: each worker process imports this module once and serves this object
app = create_app(settings_from_environment(os.environ))
