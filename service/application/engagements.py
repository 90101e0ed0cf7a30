"""Outreach and participation support engagements (R-OUT, R-PAR): one method per command."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from eventsourcing.application import AggregateNotFoundError

from service.application import idempotent
from service.application.involvement import InvolvementChecks
from service.application.retry import on_fresh_version
from service.domain.case import SupportCase
from service.domain.engagement import ServiceEngagement, engagement_id, notes_context
from service.domain.errors import GateRefused, NotFound, RuleViolation, VersionConflict
from service.domain.permissions import authorize
from service.domain.values import Actor
from service.domain.workflow import has_text

if TYPE_CHECKING:
    from uuid import UUID

    from eventsourcing.application import Repository
    from eventsourcing.domain import Aggregate
    from eventsourcing.persistence import EventStore

    from service.clock import Clock
    from service.domain.host import Host
    from service.domain.meeting import Meeting
    from service.persistence.crypto import KeyStore

T = TypeVar("T")
Json = dict[str, Any]


@dataclass(frozen=True)
class EngagementResult:
    """What an engagement command answers: the engagement's new version and what comes next."""

    case_id: str
    service: str
    engagement_id: str
    version: int
    state: str
    state_label: str
    allowed_commands: tuple[str, ...]
    extra: Json = field(default_factory=dict)


class EngagementCommands(InvolvementChecks):
    """Mixed into `Kasane`; uses its `_commit`, `_load`, `load_case` and `repository`."""

    if TYPE_CHECKING:
        keys: KeyStore
        clock: Clock

        def _commit(
            self,
            *aggregates: Aggregate,
            outcome: Any = None,
            refresh: Callable[[], Sequence[Aggregate]] | None = None,
        ) -> None: ...

        def _load(self, cls: type[T], actor: Actor, aggregate_id: str, what: str) -> T: ...

        def load_case(self, actor: Actor, case_id: str) -> SupportCase: ...

        def load_meeting(self, actor: Actor, meeting_id: str) -> Meeting: ...

        def load_host(self, actor: Actor, host_id: str) -> Host: ...

        @property
        def repository(self) -> Repository[UUID]: ...

        events: EventStore[UUID]

    # --- loading ------------------------------------------------------------------------------

    def load_engagement(self, actor: Actor, case_id: str, service: str) -> ServiceEngagement:
        """Return the case's engagement in `service` (the case's tenancy checked first)."""
        return self._engagement_of(self.load_case(actor, case_id), service)

    def _engagement_of(self, case: SupportCase, service: str) -> ServiceEngagement:
        try:
            engagement: Any = self.repository.get(engagement_id(str(case.id), service))
        except AggregateNotFoundError:
            raise NotFound(f"case {case.id} has no {service} support") from None
        assert isinstance(engagement, ServiceEngagement)
        return engagement

    def engagement_events(self, actor: Actor, case_id: str, service: str) -> list[Any]:
        """Return the engagement's stored events, oldest first (notes still sealed)."""
        authorize(actor.role, "read_engagement")
        engagement = self.load_engagement(actor, case_id, service)
        with self.keys.scope():
            return list(self.events.get(engagement.id))

    def outreach_attempts(self, case: SupportCase) -> int:
        """Return the outreach attempts without contact since the last contact (R-SUS-2):
        the outreach's own last contact, and any contact the case recorded after it."""
        try:
            outreach = self._engagement_of(case, "outreach")
        except NotFound:
            return 0
        return outreach.attempts_after(_last_case_contact(case))

    def plan_counts(
        self, cases: list[SupportCase], agenda: list[Json]
    ) -> dict[str | tuple[str, str], int]:
        """Return the plan versions a meeting may decide on, per case and per engagement."""
        counts: dict[str | tuple[str, str], int] = {str(c.id): len(c.plans) for c in cases}
        by_id = {str(c.id): c for c in cases}
        for item in agenda:
            service = item.get("service") or "coordination"
            case = by_id.get(str(item.get("case_id")))
            if service != "coordination" and case is not None:
                try:
                    counts[(str(case.id), service)] = len(self._engagement_of(case, service).plans)
                except NotFound:
                    counts[(str(case.id), service)] = 0
        return counts

    # --- starting (R-PAR-1, R-DEC-3, R-OUT-3) -------------------------------------------------

    def start_engagement(
        self,
        actor: Actor,
        case_id: str,
        service: str,
        *,
        basis: str,
        reason: str,
        started_on: str,
    ) -> EngagementResult:
        """Start outreach or participation support after the decision or early with a reason."""
        if (
            replayed := idempotent.replayed(idempotent.replay_result(EngagementResult))
        ) is not None:
            return cast(EngagementResult, replayed)
        authorize(actor.role, f"{service}.start")
        case = self.load_case(actor, case_id)
        self.ensure_involved(actor, case, f"{service}.start")
        try:
            self.repository.get(engagement_id(str(case.id), service))
        except AggregateNotFoundError:
            pass
        else:
            raise GateRefused(
                f"{service} support of this case has already started",
                code="engagement_already_started",
                rules=("R-PAR-1", "R-DEC-3"),
            )
        engagement = ServiceEngagement.begin(actor, case, service, basis, reason, started_on)
        # An early start is recorded on the case too: both are saved in one transaction.
        result = _result(engagement, {"case_version": case.version})
        self._commit(*[a for a in (case, engagement) if a.pending_events], outcome=result)
        return result

    # --- commands on a started engagement ---------------------------------------------------------

    def _engage(
        self,
        command: str,
        actor: Actor,
        case_id: str,
        service: str,
        expected_version: int | None,
        change: Callable[[SupportCase, ServiceEngagement], Any],
    ) -> EngagementResult:
        if (
            replayed := idempotent.replayed(idempotent.replay_result(EngagementResult))
        ) is not None:
            return cast(EngagementResult, replayed)
        authorize(actor.role, f"{service}.{command}")

        decided: list[tuple[ServiceEngagement, Any]] = []  # the last decision is the one saved

        def decide() -> list[Aggregate]:
            case = self.load_case(actor, case_id)
            self.ensure_involved(actor, case, f"{service}.{command}")
            engagement = self._engagement_of(case, service)
            if expected_version is not None and expected_version != engagement.version:
                raise VersionConflict(
                    f"expected version {expected_version}, the {service} support is at version "
                    f"{engagement.version}"
                )
            decided.append((engagement, change(case, engagement)))
            return [engagement]

        def result() -> EngagementResult:
            engagement, extra = decided[-1]
            return _result(engagement, extra or {})

        def attempt() -> EngagementResult:
            refresh = decide if expected_version is None else None
            self._commit(*decide(), outcome=result, refresh=refresh)
            return result()

        return on_fresh_version(expected_version, attempt)

    def _sealed(
        self, case: SupportCase, engagement: ServiceEngagement, record: Json, person_id: str
    ) -> Json:
        """Seal the record's free-text notes with the person's data key (personal data)."""
        if person_id not in case.person_ids:
            raise RuleViolation(
                f"{person_id} is not a person of this case",
                code="unknown_person",
                rules=("R-CON-5",),
            )
        notes = record.get("notes")
        if not has_text(notes):
            return {**record, "notes": None}
        sealed = self.keys.seal(str(case.id), person_id, notes, notes_context(engagement.id))
        return {**record, "notes": sealed}

    def record_outreach_activity(
        self, actor: Actor, case_id: str, ev: int | None, activity: Json
    ) -> EngagementResult:
        """Record an outreach activity; before consent only structured facts (R-OUT-2, R-OUT-3)."""

        def change(case: SupportCase, engagement: ServiceEngagement) -> Json:
            person_id = activity.get("person_id") or "person"
            sealed = self._sealed(case, engagement, {**activity, "person_id": person_id}, person_id)
            activity_id = engagement.record_activity(
                actor, sealed, person_consented=_consented(case, person_id)
            )
            return {"activity_id": activity_id}

        return self._engage("record_activity", actor, case_id, "outreach", ev, change)

    def record_engagement_intake(
        self, actor: Actor, case_id: str, ev: int | None, intake: Json
    ) -> EngagementResult:
        """Record the participation provider's intake (R-PAR-2)."""
        return self._engage(
            "record_intake",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.record_intake(actor, self._sealed(c, e, intake, "person")),
        )

    def assess_engagement(
        self, actor: Actor, case_id: str, ev: int | None, assessment: Json
    ) -> EngagementResult:
        """Record the participation provider's assessment (R-PAR-2)."""
        return self._engage(
            "assess",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.assess(actor, self._sealed(c, e, assessment, "person")),
        )

    def draft_engagement_plan(
        self, actor: Actor, case_id: str, service: str, ev: int | None, plan: Json
    ) -> EngagementResult:
        """Write a plan version of the service (R-OUT-4, R-PAR-2)."""
        drafted = {**plan, "drafted_on": self.clock.today().isoformat()}
        return self._engage(
            "draft_plan",
            actor,
            case_id,
            service,
            ev,
            lambda c, e: {"plan_version": e.draft_plan(actor, drafted)},
        )

    def approve_engagement_plan(
        self,
        actor: Actor,
        case_id: str,
        service: str,
        ev: int | None,
        meeting_id: str,
        replan: bool = False,
    ) -> EngagementResult:
        """Adopt the service's draft plan at its meeting (R-MTG-5 A / B, R-OUT-4, R-PAR-5)."""
        command = "approve_replan" if replan else "approve_plan"

        def change(case: SupportCase, engagement: ServiceEngagement) -> Json:
            evidence = self.load_meeting(actor, meeting_id).evidence_for(str(case.id), service)
            approve = engagement.approve_replan if replan else engagement.approve_plan
            return {"plan_version": approve(actor, evidence)}

        return self._engage(command, actor, case_id, service, ev, change)

    def match_host(
        self, actor: Actor, case_id: str, ev: int | None, match: Json
    ) -> EngagementResult:
        """Match the person to a host of the municipality's register (R-PAR-3)."""

        def change(case: SupportCase, engagement: ServiceEngagement) -> None:
            try:
                registered = self.load_host(actor, str(match.get("host_id"))).active
            except NotFound:
                registered = False
            sealed = self._sealed(case, engagement, match, "person")
            engagement.match_host(actor, sealed, host_registered=registered)

        return self._engage("match_host", actor, case_id, "participation", ev, change)

    def record_settling_in(
        self, actor: Actor, case_id: str, ev: int | None, record: Json
    ) -> EngagementResult:
        """Record settling-in support for the person or the host (R-PAR-3)."""
        return self._engage(
            "record_settling_in",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.record_settling_in(actor, self._sealed(c, e, record, "person")),
        )

    def record_follow_up(
        self, actor: Actor, case_id: str, ev: int | None, follow_up: Json
    ) -> EngagementResult:
        """Record a follow-up visit of the person or of the host (R-PAR-3)."""
        return self._engage(
            "record_follow_up",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.record_follow_up(actor, self._sealed(c, e, follow_up, "person")),
        )

    def pay_host_cost(
        self, actor: Actor, case_id: str, ev: int | None, payment: Json
    ) -> EngagementResult:
        """Record an actual-cost payment to the host (R-PAR-3)."""
        return self._engage(
            "pay_cost",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.pay_cost(actor, payment),
        )

    def close_engagement(
        self,
        actor: Actor,
        case_id: str,
        service: str,
        ev: int | None,
        meeting_id: str,
        closure: Json,
    ) -> EngagementResult:
        """Close the service at its closure meeting (R-MTG-5 C, R-PAR-4)."""
        return self._engage(
            "close_engagement",
            actor,
            case_id,
            service,
            ev,
            lambda c, e: e.close(
                actor,
                self.load_meeting(actor, meeting_id).evidence_for(str(c.id), service),
                closure,
            ),
        )

    def suspend_engagement(
        self, actor: Actor, case_id: str, service: str, ev: int | None, meeting_id: str, reason: str
    ) -> EngagementResult:
        """Suspend the service at its suspension meeting (R-MTG-5 D, R-SUS-1, R-SUS-2)."""
        return self._engage(
            "suspend_engagement",
            actor,
            case_id,
            service,
            ev,
            lambda c, e: e.suspend(
                actor, self.load_meeting(actor, meeting_id).evidence_for(str(c.id), service), reason
            ),
        )

    def resume_engagement(
        self, actor: Actor, case_id: str, service: str, ev: int | None, **kw: Any
    ) -> EngagementResult:
        """Resume the service after closure, or when contact is restored (R-SUS-3)."""
        return self._engage(
            "resume_engagement", actor, case_id, service, ev, lambda c, e: e.resume(actor, **kw)
        )

    def record_periodic_contact(
        self, actor: Actor, case_id: str, ev: int | None, contact: Json
    ) -> EngagementResult:
        """Keep up the relationship after closure, with the next contact's date (R-PAR-4)."""
        return self._engage(
            "record_periodic_contact",
            actor,
            case_id,
            "participation",
            ev,
            lambda c, e: e.record_periodic_contact(actor, self._sealed(c, e, contact, "person")),
        )


def _last_case_contact(case: SupportCase) -> str | None:
    """Return the date of the case's latest recorded contact with the person, if any."""
    days = [str(c.get("on")) for c in case.contacts if c.get("reached") and c.get("on")]
    days += [str(m.get("on")) for m in case.monitoring if m.get("contact_made") and m.get("on")]
    days += [
        str(r["contact_restored_on"]) for r in case.resumptions if r.get("contact_restored_on")
    ]
    return max(days) if days else None


def _consented(case: SupportCase, person_id: str) -> bool:
    """Whether free-text records about the person are allowed (R-OUT-3, R-CON-2, R-CON-5)."""
    if not case.has_application_for_use:
        return False
    return person_id == "person" or bool(case.active_consents(person_id))


_REPLAY = idempotent.replay_result(EngagementResult)


def _result(engagement: ServiceEngagement, extra: Json) -> EngagementResult:
    return EngagementResult(
        case_id=engagement.case_id,
        service=engagement.service,
        engagement_id=str(engagement.id),
        version=engagement.version,
        state=engagement.state,
        state_label=engagement.workflow.state_labels[engagement.state],
        allowed_commands=engagement.allowed_commands,
        extra=extra,
    )
