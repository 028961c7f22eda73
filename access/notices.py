"""What an agency must be told about its linking (points 19 and 20): a suspension with its
deadline to improve, a lapse that requires a new application, a termination.

Point 19 asks for the notice the same day; a record in the provider's database reaches
nobody, so these notices are what the agency's users see on every page after login, what
the API's refusals say in one line, and what ``GET /api/v1/notices`` answers even while
the agency's data access is suspended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from access.models import Grant, Termination, User, Violation
from stats.taipei import format_date, format_time

KINDS = ("suspended", "lapsed", "terminated", "terminating")


@dataclass(frozen=True)
class Notice:
    """One thing the agency must know about one of its grants."""

    kind: str  # one of KINDS
    grant_id: int
    provider: str  # the providing agency's name
    since: datetime  # when it took (or takes) effect
    deadline: date | None  # suspended: the deadline to improve
    reason: str  # the violation as recorded, or the termination letter
    contact: str  # whom to contact: the recording official and their provider

    def as_json(self) -> dict[str, object]:
        """The notice for the API (machine times ISO 8601 with offset)."""
        return {
            "kind": self.kind,
            "grant": self.grant_id,
            "provider": self.provider,
            "since": self.since.isoformat(timespec="seconds"),
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "reason": self.reason,
            "contact": self.contact,
            "text_zh": notice_text(self, "zh"),
            "text_en": notice_text(self, "en"),
        }


def notice_text(notice: Notice, lang: str = "zh") -> str:
    """The notice in one line, in Taipei time."""
    since = format_time(notice.since, lang)
    deadline = format_date(notice.deadline, lang) if notice.deadline else ""
    if lang == "zh":
        return {
            "suspended": f"{notice.provider}自{since}起停止貴機關之連結作業（違規：{notice.reason}），"
                         f"請於{deadline}前改善，並洽{notice.contact}。",
            "lapsed": f"{notice.provider}之連結授權已於{since}失效（逾半年未改善），"
                      f"須重新申請；請洽{notice.contact}。",
            "terminated": f"{notice.provider}之連結作業已於{since}終止（{notice.reason}）；"
                          f"請洽{notice.contact}。",
            "terminating": f"{notice.provider}之連結作業將於{since}終止（{notice.reason}）；"
                           f"請洽{notice.contact}。",
        }[notice.kind]
    return {
        "suspended": f"{notice.provider} suspended your agency's linking from {since} "
                     f"(violation: {notice.reason}); improve by {deadline} and contact "
                     f"{notice.contact}.",
        "lapsed": f"Your linking with {notice.provider} lapsed on {since} (unimproved for six "
                  f"months); apply again; contact {notice.contact}.",
        "terminated": f"Your linking with {notice.provider} ended on {since} ({notice.reason}); "
                      f"contact {notice.contact}.",
        "terminating": f"Your linking with {notice.provider} ends on {since} ({notice.reason}); "
                       f"contact {notice.contact}.",
    }[notice.kind]


def _contact(official: User | None, provider: str) -> str:
    return f"{provider} {official.username}" if official is not None else provider


def agency_notices(session: Session, agency_id: int, now: datetime) -> list[Notice]:
    """Every notice in force for the agency at ``now``, newest first."""
    notices: list[Notice] = []
    violations = session.execute(
        select(Violation, Grant, User)
        .join(Grant, Violation.grant_id == Grant.id)
        .join(User, Violation.recorded_by == User.id, isouter=True)
        .where(Grant.agency_id == agency_id, Violation.restored_at.is_(None),
               Violation.noticed_at <= now)
    ).all()
    for violation, grant, official in violations:
        provider = grant.provider.name
        if violation.lapsed_at is not None or grant.state == "lapsed":
            notices.append(Notice("lapsed", grant.id, provider, violation.lapsed_at or now, None,
                                  violation.description, _contact(official, provider)))
        elif grant.state == "suspended":
            notices.append(Notice("suspended", grant.id, provider, violation.noticed_at,
                                  violation.deadline, violation.description,
                                  _contact(official, provider)))
    terminations = session.execute(
        select(Termination, Grant)
        .join(Grant, Termination.grant_id == Grant.id)
        .where(Grant.agency_id == agency_id, Termination.recorded_at <= now)
    ).all()
    for termination, grant in terminations:
        provider = grant.provider.name
        ends = grant.ends_at
        if ends is None:
            continue
        kind = "terminated" if ends <= now else "terminating"
        notices.append(Notice(kind, grant.id, provider, ends, None,
                              f"{termination.letter_ref}", provider))
    return sorted(notices, key=lambda n: n.since, reverse=True)


def blocking_notices(notices: list[Notice]) -> list[Notice]:
    """The notices that stop data access now (a termination still ahead does not)."""
    return [n for n in notices if n.kind != "terminating"]

