"""The ``--encoding`` option type of ``build`` and ``export``: one list (stats.charsets).

A click choice that also takes the aliases (``big5`` → ``cp950``, case ignored) and hands
the command the offered name; a name outside the list is refused with the reason (BIG-5E
has no implementation anywhere), not just the list.
"""

from __future__ import annotations

import click

from stats.charsets import CHOICES, UnknownEncodingName, canonical


class EncodingChoice(click.Choice):
    """``--encoding``: an offered encoding or an alias of one, returned as the offered name."""

    name = "encoding"

    def __init__(self) -> None:
        super().__init__(CHOICES, case_sensitive=False)

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        try:
            return canonical(str(value))
        except UnknownEncodingName as exc:
            self.fail(str(exc), param, ctx)


ENCODING = EncodingChoice()
