"""The community issue aggregate: a shortage of social resources found in cases (R-RES-1).

A shortage recorded at a meeting (R-MTG-3 C) becomes a community issue of the municipality, for
its development work. One issue per municipality and normalised shortage text: its id is derived
from both (`issue_id`), so the same shortage raised again at a later meeting links the new
meeting and its cases to the existing issue (`CommunityIssueCaseLinked`) instead of opening a
duplicate. If that issue was already resolved or closed, being raised again reopens it: the
shortage evidently persists. Texts are compared after Unicode NFKC normalisation, case folding
and collapsing of white space, so "就労体験の場が不足" and "就労体験の場が不足 " are one issue.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate, event

from service.domain.errors import RuleViolation
from service.domain.values import Actor

Json = dict[str, Any]

_NAMESPACE = UUID("6f1d3c2e-8b1a-4f5e-9c47-2a0c5e7d9b31")


class IssueStatus(StrEnum):
    """Where the municipality's development work on the issue stands."""

    open = "open"
    in_development = "in_development"
    resolved = "resolved"
    closed = "closed"


ISSUE_STATUS_LABELS = {
    "open": "未着手",
    "in_development": "資源開発中",
    "resolved": "解決",
    "closed": "終了",
}

# open → in_development → resolved / closed; an open issue may also be settled directly.
_NEXT = {
    IssueStatus.open: frozenset(
        {IssueStatus.in_development, IssueStatus.resolved, IssueStatus.closed}
    ),
    IssueStatus.in_development: frozenset({IssueStatus.resolved, IssueStatus.closed}),
    IssueStatus.resolved: frozenset(),
    IssueStatus.closed: frozenset(),
}
SETTLED = frozenset({IssueStatus.resolved, IssueStatus.closed})


def normalise(text: str) -> str:
    """Return the comparison form of a shortage text (NFKC, case-folded, single spaces)."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip().casefold()


def issue_id(municipality_id: str, text: str) -> UUID:
    """Return the id of the municipality's issue for this shortage text."""
    return uuid5(_NAMESPACE, f"{municipality_id}\x00{normalise(text)}")


class CommunityIssue(Aggregate):
    """One shortage of social resources, with the meetings and cases that raised it (R-RES-1)."""

    @staticmethod
    def create_id(municipality_id: str, text: str) -> UUID:
        """The id follows from the municipality and the normalised text (see the module)."""
        return issue_id(municipality_id, text)

    @event("CommunityIssueRaised")
    def __init__(
        self,
        municipality_id: str,
        text: str,
        actor: Json,
        meeting_id: str,
        raised_on: str,
        case_ids: list[str],
    ) -> None:
        self.municipality_id = municipality_id
        self.text = text
        self.status = str(IssueStatus.open)
        self.raised_by = actor
        self.raised_on = raised_on
        self.last_raised_on = raised_on
        self.raisings: list[Json] = [
            {"meeting_id": meeting_id, "raised_on": raised_on, "case_ids": case_ids}
        ]
        self.status_history: list[Json] = []

    @classmethod
    def raise_issue(
        cls, actor: Actor, *, text: str, meeting_id: str, raised_on: str, case_ids: list[str]
    ) -> CommunityIssue:
        """Open the issue for a shortage first found at a meeting (R-RES-1, R-MTG-3 C)."""
        if not normalise(text):
            raise RuleViolation(
                "a resource shortage names what is short",
                code="resource_shortage_text_required",
                rules=("R-RES-1",),
            )
        return cls(
            municipality_id=actor.municipality_id,
            text=" ".join(text.split()),
            actor=actor.as_dict(),
            meeting_id=meeting_id,
            raised_on=raised_on,
            case_ids=list(case_ids),
        )

    @property
    def case_ids(self) -> list[str]:
        """Return every case that raised the issue, in order of first raising."""
        return list(dict.fromkeys(c for r in self.raisings for c in r["case_ids"]))

    @property
    def meeting_ids(self) -> list[str]:
        """Return the meetings that raised the issue."""
        return [r["meeting_id"] for r in self.raisings]

    @property
    def status_since(self) -> str:
        """Return the business date the current status began (ISO date).

        The raising, each status change (`changed_on`) and each reopening link (`raised_on`)
        start a status; the state report dates them the same way (R-RPT-1).
        """
        return max(
            [
                self.raised_on,
                *(h["changed_on"] for h in self.status_history),
                *(r["raised_on"] for r in self.raisings if r.get("reopened")),
            ]
        )

    def link(self, actor: Actor, *, meeting_id: str, raised_on: str, case_ids: list[str]) -> None:
        """Record that a later meeting found the same shortage; reopen a settled issue.

        Only a meeting held on or after the day the issue was settled reopens it: one held
        before (recorded late) found the shortage the settlement already dealt with.
        """
        if meeting_id in self.meeting_ids:
            return
        self._linked(
            actor=actor.as_dict(),
            meeting_id=meeting_id,
            raised_on=raised_on,
            case_ids=list(case_ids),
            reopened=IssueStatus(self.status) in SETTLED and raised_on >= self.status_since,
        )

    @event("CommunityIssueCaseLinked")
    def _linked(
        self, actor: Json, meeting_id: str, raised_on: str, case_ids: list[str], reopened: bool
    ) -> None:
        raising = {"meeting_id": meeting_id, "raised_on": raised_on, "case_ids": case_ids}
        self.raisings.append({**raising, "reopened": True} if reopened else raising)
        self.last_raised_on = max(self.last_raised_on, raised_on)
        if reopened:
            self.status = str(IssueStatus.open)

    def change_status(self, actor: Actor, *, status: str, note: str, changed_on: str) -> None:
        """Move the issue along open → in_development → resolved / closed, with a note."""
        try:
            target = IssueStatus(status)
        except ValueError:
            raise RuleViolation(
                f"unknown status {status!r}; one of: {', '.join(IssueStatus)}",
                code="invalid_community_issue_status",
                rules=("R-RES-1",),
            ) from None
        if target not in _NEXT[IssueStatus(self.status)]:
            raise RuleViolation(
                f"a {self.status} issue cannot become {target}",
                code="community_issue_status_not_allowed",
                rules=("R-RES-1",),
            )
        if not note.strip():
            raise RuleViolation(
                "a status change records a note on the development work",
                code="community_issue_note_required",
                rules=("R-RES-1",),
            )
        if changed_on < self.status_since:
            raise RuleViolation(
                f"the change is dated {changed_on}, before the current status began on "
                f"{self.status_since}",
                code="community_issue_status_date_out_of_order",
                rules=("R-RES-1", "R-RPT-1"),
            )
        self._status_changed(
            actor=actor.as_dict(),
            previous=self.status,
            status=str(target),
            note=note,
            changed_on=changed_on,
        )

    @event("CommunityIssueStatusChanged")
    def _status_changed(
        self, actor: Json, previous: str, status: str, note: str, changed_on: str
    ) -> None:
        self.status = status
        self.status_history.append(
            {
                "actor": actor,
                "previous": previous,
                "status": status,
                "note": note,
                "changed_on": changed_on,
            }
        )


def issues_from_meeting(
    actor: Actor,
    *,
    meeting_id: str,
    held_on: str,
    shortages: list[str],
    case_ids: list[str],
    existing: dict[UUID, CommunityIssue],
) -> list[CommunityIssue]:
    """Return the issues a meeting raises or links: one per distinct normalised shortage.

    `existing` maps issue ids already stored for the municipality to their aggregates.
    """
    result: dict[UUID, CommunityIssue] = {}
    for text in shortages:
        if not normalise(text):
            continue
        uid = issue_id(actor.municipality_id, text)
        if uid in result:
            continue
        issue = existing.get(uid)
        if issue is None:
            issue = CommunityIssue.raise_issue(
                actor, text=text, meeting_id=meeting_id, raised_on=held_on, case_ids=case_ids
            )
        else:
            issue.link(actor, meeting_id=meeting_id, raised_on=held_on, case_ids=case_ids)
        result[uid] = issue
    return list(result.values())
