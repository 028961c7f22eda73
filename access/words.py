"""The names of the access layer's states in both languages, for messages and pages."""

from __future__ import annotations

APPLICATION_STATES = {
    "submitted": ("待審查", "awaiting review"),
    "returned": ("退回補正", "returned for completion"),
    "approved": ("已核准", "approved"),
    "rejected": ("已駁回", "rejected"),
}
GRANT_STATES = {
    "active": ("生效", "active"),
    "suspended": ("暫停", "suspended"),
    "lapsed": ("失效（須重新申請）", "lapsed (apply again)"),
    "terminated": ("終止", "terminated"),
}


def status_label(status: str) -> str:
    """An application's status in Chinese (the code itself when unknown)."""
    return APPLICATION_STATES.get(status, (status,))[0]


def state_label(state: str) -> str:
    """A grant's state in Chinese (the code itself when unknown)."""
    return GRANT_STATES.get(state, (state,))[0]
