"""The meeting aggregate: a layered support meeting, a support council or a case conference."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from eventsourcing.domain import Aggregate, event

from service.domain.errors import RuleViolation
from service.domain.evidence import AgendaDecision, MeetingEvidence
from service.domain.values import Actor, MeetingKind, Outcome, Role, Timing

Json = dict[str, Any]

# The services an agenda item may decide on (R-MTG-5, R-OUT-4, R-PAR-5); an item without one
# (every item recorded before outreach and participation existed) is about coordination.
COORDINATION = "coordination"
AGENDA_SERVICES = (COORDINATION, "outreach", "participation")


def agenda_service(item: Json) -> str:
    """Return the service an agenda item decides on."""
    return str(item.get("service") or COORDINATION)


class Meeting(Aggregate):
    """One held meeting; it may take several cases, each with its own decision (R-MTG-7)."""

    @event("MeetingRecorded")
    def __init__(
        self,
        municipality_id: str,
        actor: Json,
        kind: str,
        held_on: str,
        meeting_format: str,
        title: str,
        reused_council: str | None,
        participants: list[Json],
        person_attended: bool,
        agenda: list[Json],
        resource_shortages: list[str],
    ) -> None:
        self.municipality_id = municipality_id
        self.host = actor
        self.kind = kind
        self.held_on = held_on
        self.meeting_format = meeting_format
        self.title = title
        self.reused_council = reused_council
        self.participants = participants
        self.person_attended = person_attended
        self.agenda = agenda
        self.resource_shortages = resource_shortages

    @classmethod
    def record(
        cls,
        actor: Actor,
        *,
        kind: MeetingKind,
        held_on: str,
        meeting_format: str,
        participants: list[Json],
        agenda: list[Json],
        consented_case_ids: Collection[str],
        plan_counts: Mapping[str | tuple[str, str], int] | None = None,
        person_attended: bool = False,
        resource_shortages: list[str] | None = None,
        title: str = "",
        reused_council: str | None = None,
    ) -> Meeting:
        """Record a held meeting after checking who hosts and who attended it.

        `plan_counts` gives each case's number of plan versions: keyed by case id for the
        coordination plan, by (case id, service) for an outreach or participation plan.
        """
        _check_host(actor, kind)
        _check_agenda(kind, agenda, consented_case_ids, plan_counts)
        if kind is MeetingKind.layered_support_meeting:
            attended = {Role(p["role"]) for p in participants if p.get("attended", True)}
            if not {Role.coordinator, Role.municipality} <= attended:
                raise RuleViolation(
                    "a layered support meeting needs the coordinator and the municipality",
                    code="meeting_missing_mandatory_participants",
                    rules=("R-MTG-2",),
                )
        return cls(
            municipality_id=actor.municipality_id,
            actor=actor.as_dict(),
            kind=str(kind),
            held_on=held_on,
            meeting_format=meeting_format,
            title=title,
            reused_council=reused_council,
            participants=participants,
            person_attended=person_attended,
            agenda=agenda,
            resource_shortages=list(resource_shortages or []),
        )

    @property
    def case_ids(self) -> list[str]:
        """Return the cases on the agenda (once each, whatever the services)."""
        return list(dict.fromkeys(item["case_id"] for item in self.agenda))

    def evidence_for(self, case_id: str, service: str = COORDINATION) -> MeetingEvidence:
        """Return what this meeting proves about one service of a case, for its gate."""
        item = next(
            (i for i in self.agenda if i["case_id"] == case_id and agenda_service(i) == service),
            None,
        )
        decision = (
            AgendaDecision(
                timing=Timing(item["timing"]),
                plan_version=item.get("plan_version"),
                outcome=Outcome(item["outcome"]),
            )
            if item
            else None
        )
        return MeetingEvidence(
            meeting_id=str(self.id),
            kind=MeetingKind(self.kind),
            attended_roles=frozenset(
                Role(p["role"]) for p in self.participants if p.get("attended", True)
            ),
            decision=decision,
            service=service,
            held_on=self.held_on,
        )


def _check_host(actor: Actor, kind: MeetingKind) -> None:
    if kind is MeetingKind.layered_support_meeting and actor.role is not Role.coordinator:
        raise RuleViolation(
            "only the coordinator hosts a layered support meeting",
            code="meeting_host_must_be_coordinator",
            rules=("R-MTG-1",),
        )
    if kind is MeetingKind.support_council and actor.role is not Role.municipality:
        raise RuleViolation(
            "only the municipality hosts a support council",
            code="council_host_must_be_municipality",
            rules=("R-ORG-1", "R-CON-2"),
        )


def _check_agenda(
    kind: MeetingKind,
    agenda: list[Json],
    consented: Collection[str],
    plan_counts: Mapping[str | tuple[str, str], int] | None,
) -> None:
    keys = [(item.get("case_id"), agenda_service(item)) for item in agenda]
    if len(set(keys)) != len(keys):
        raise RuleViolation(
            "one agenda item per case and service",
            code="duplicate_agenda_item",
            rules=("R-MTG-7",),
        )
    for item in agenda:
        try:
            timing, _ = Timing(item["timing"]), Outcome(item["outcome"])
            if agenda_service(item) not in AGENDA_SERVICES:
                raise ValueError(item.get("service"))
        except (KeyError, ValueError):
            raise RuleViolation(
                "an agenda item names its case, a timing, an outcome and a known service",
                code="invalid_agenda_item",
                rules=("R-MTG-7",),
            ) from None
        if timing is not Timing.none and kind is not MeetingKind.layered_support_meeting:
            raise RuleViolation(
                "only a layered support meeting is held at a plan, re-plan, closure or "
                "suspension timing",
                code="timing_requires_layered_support_meeting",
                rules=("R-MTG-5", "R-MTG-6"),
            )
        version = item.get("plan_version")
        if timing is not Timing.none and version is None:
            raise RuleViolation(
                "an agenda item at one of the four timings names the plan version",
                code="plan_version_required",
                rules=("R-MTG-5",),
            )
        if (
            version is not None
            and plan_counts is not None
            and not 1 <= version <= _plan_count(plan_counts, item)
        ):
            raise RuleViolation(
                f"the case has no {agenda_service(item)} plan version {version} to decide on",
                code="plan_version_unknown",
                rules=("R-MTG-5", "R-PLN-3"),
            )
        # Only the support council may take a case without consent (R-CON-2).
        if kind is not MeetingKind.support_council and item["case_id"] not in consented:
            raise RuleViolation(
                "a case without the person's consent goes to the support council only",
                code="case_without_consent",
                rules=("R-CON-2",),
            )


def _plan_count(plan_counts: Mapping[str | tuple[str, str], int], item: Json) -> int:
    service = agenda_service(item)
    if service == COORDINATION:
        return plan_counts.get(item["case_id"], plan_counts.get((item["case_id"], service), 0))
    return plan_counts.get((item["case_id"], service), 0)
