"""Command-line workflows of the linking governance (``access/``), added to ``popstats``.

``register(main)`` adds: ``db``, ``demo-accounts``, ``agency``, ``user``, ``token``,
``application``, ``grant``, ``personnel``, ``violation``, ``terminate``, ``delivery``,
``dispute``, ``audit`` and ``maintain`` (the scheduled upkeep).
Every command takes ``--db URL`` (default: ``$POPSTATS_DB``, else the embedded SQLite file
``popstats.db``) and migrates that database to the current schema first. These commands
are the provider's administration tool: ``--by USERNAME`` names the acting official, whose
role and jurisdiction are checked and audited.
"""

from __future__ import annotations

import click

from popstats.access_cli.audit import audit_group
from popstats.access_cli.linking import (
    application_group,
    grant_group,
    terminate,
    violation_group,
)
from popstats.access_cli.maintenance import maintain
from popstats.access_cli.parties import (
    agency_group,
    db_group,
    demo_accounts,
    personnel_group,
    token_group,
    user_group,
)
from popstats.access_cli.records import delivery_group, dispute_group


def register(main: click.Group) -> None:
    """Add the access commands to the ``popstats`` group."""
    for command in (
        db_group,
        demo_accounts,
        agency_group,
        user_group,
        token_group,
        application_group,
        grant_group,
        personnel_group,
        violation_group,
        terminate,
        delivery_group,
        dispute_group,
        audit_group,
        maintain,
    ):
        main.add_command(command)
