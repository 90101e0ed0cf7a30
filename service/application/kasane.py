"""The Kasane application: one method per command (load, call the aggregate, save)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    InterfaceError,
    Mapper,
    OperationalError,
    PersistenceError,
)
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import false, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError as SQLAlchemyInterfaceError
from sqlalchemy.exc import OperationalError as SQLAlchemyOperationalError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from service.application import idempotent
from service.application.engagements import EngagementCommands
from service.application.group_commit import GroupCommit
from service.application.registers import RegisterCommands
from service.application.retry import on_fresh_version
from service.application.worklists import WorklistQueries
from service.clock import Clock, SystemClock
from service.domain.case import SupportCase
from service.domain.community_issue import CommunityIssue
from service.domain.errors import NotFound, VersionConflict
from service.domain.evidence import MeetingEvidence
from service.domain.meeting import Meeting
from service.domain.permissions import authorize
from service.domain.values import REFERRER_ROLES, Actor, MeetingKind
from service.integration import webhooks
from service.integration.index import index_recordings, tenant_of
from service.persistence.crypto import KeyStore
from service.persistence.recorders import CoreAggregateRecorder, CoreApplicationRecorder
from service.persistence.sealing import STREAM_SUBJECT, SealingMapper
from service.projections import runner
from service.projections.rebuild import rebuild_by_aggregate

T = TypeVar("T")
Json = dict[str, Any]
# A case's state is saved as a (sealed) snapshot every this many events: loading it replays at
# most this many events, however long its history (bench/README.md, replay and growth).
SNAPSHOT_INTERVAL = 50
# Errors after which a COMMIT may or may not have happened: looked up before answering.
_AMBIGUOUS = (
    OperationalError,
    InterfaceError,
    SQLAlchemyOperationalError,
    SQLAlchemyInterfaceError,
)


def project_events(aggregate: Any, domain_events: Iterable[Any]) -> Any:
    """Fold events into an aggregate: the library's projector without its per-event runtime
    Protocol `isinstance` assert, which took most of a replay's time (bench/README.md)."""
    for domain_event in domain_events:
        aggregate = domain_event.mutate(aggregate)
    return aggregate


@dataclass(frozen=True)
class CaseResult:
    """What a case command answers: the case's new version and what it may do next."""

    case_id: str
    version: int
    state: str
    allowed_commands: tuple[str, ...]
    extra: Json = field(default_factory=dict)


class Kasane(EngagementCommands, RegisterCommands, WorklistQueries, Application[UUID]):
    """Support cases and meetings, stored as events; read models written in the same transaction."""

    name = "kasane"
    snapshotting_intervals = {SupportCase: SNAPSHOT_INTERVAL}  # noqa: RUF012 (library API)
    snapshotting_projectors = {SupportCase: project_events}  # noqa: RUF012

    def __init__(
        self,
        database_url: str,
        master_key: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.clock: Clock = clock or SystemClock()  # "today" of worklists; tests set it
        self._master_key = master_key
        self._engine_options = dict(engine_options or {})
        super().__init__(
            env={
                "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                "SQLALCHEMY_URL": database_url,
                "CREATE_TABLE": "no",  # Alembic owns every table (migrations/)
            }
        )

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        """Create the engine with the pool and timeout options (service/persistence/database.py)."""
        return cast(InfrastructureFactory, _Factory(env, self._engine_options))

    @property
    def engine(self) -> Engine:
        """Return the database engine shared by the event store and the read models."""
        return cast(Engine, self.recorder.datastore.engine)  # type: ignore[attr-defined]

    @cached_property
    def _group_commit(self) -> GroupCommit:
        return GroupCommit(
            lambda: self.recorder.transaction(commit=True),  # type: ignore[attr-defined]
            self.keys.settle,
        )

    def construct_mapper(self) -> Mapper[UUID]:
        """Seal personal fields with per-person keys (service/persistence/crypto.py)."""
        engine = self.factory.datastore.engine  # type: ignore[attr-defined]
        self.keys = KeyStore(engine, self._master_key)
        return SealingMapper(self.construct_transcoder(), self.keys)

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository, whose every load looks each person's key up once (a replay
        opens many sealed fields of the same persons)."""
        repository = super().construct_repository()
        get, keys = repository.get, self.keys

        def get_with_keys_scoped(*args: Any, **kwargs: Any) -> Any:
            with keys.scope():
                return get(*args, **kwargs)

        repository.get = get_with_keys_scoped  # type: ignore[method-assign]
        return repository

    # --- plumbing -----------------------------------------------------------------------------

    def _commit(
        self,
        *aggregates: Aggregate,
        outcome: Any = None,
        refresh: Callable[[], Sequence[Aggregate]] | None = None,
    ) -> None:
        """Save the aggregates' events with their keys, index, outbox and read models, in one
        transaction shared with concurrent commands (group commit); return once committed.

        Under an Idempotency-Key the key's outcome (`outcome` — a value, or a callable asked
        after the last decision — else the first saved aggregate's id and version) is written in
        the same transaction (service/application/idempotent.py).

        `refresh` (a command without an expected version) loads and decides again: it replaces
        the aggregates when another writer saved one of them after it was loaded. That is
        checked inside the transaction, holding the events' write lock, so the second decision
        can't lose the race again (a fresh load after a conflict could, to a writer in a loop).
        """
        keyed = idempotent.current.get()  # read here: the group's leader may be another thread
        if keyed is not None and keyed.replay is not None:
            raise RuntimeError("a replayed command must not be written again")
        # what was saved last, for the look-up after an ambiguous failure (`_stored`)
        last = [(a.id, a.pending_events[-1]) for a in aggregates if a.pending_events]

        def write(session: Session) -> None:
            saving = aggregates
            if refresh is not None and self._saved_since_loaded(session, aggregates):
                saving = tuple(refresh())
            for aggregate in saving:
                if isinstance(aggregate, SupportCase):
                    self.keys.ensure(session, str(aggregate.id), aggregate.person_ids)
                elif isinstance(aggregate, Meeting | CommunityIssue):
                    self.keys.ensure(session, str(aggregate.id), [STREAM_SUBJECT])
            last[:] = [(a.id, a.pending_events[-1]) for a in saving if a.pending_events]
            recordings = self.save(*saving)
            ids = [r.notification.id for r in recordings]
            index_recordings(session, saving, recordings)
            webhooks.enqueue(session, saving, recordings)
            runner.apply_saved(session, saving, ids, self.keys)
            if keyed is not None:
                decided = outcome() if callable(outcome) else outcome
                idempotent.record(session, keyed, idempotent.outcome_of(decided or saving[0]))

        try:
            self._group_commit.submit(write, aggregates, partial(self._stored, last, keyed))
        except IntegrityError:
            raise VersionConflict(
                "another change to this case was saved first; reload and retry"
            ) from None
        if keyed is not None:
            keyed.committed = True

    def _stored(
        self,
        last: list[tuple[UUID, Any]],
        keyed: idempotent.KeyedCommand | None,
        error: BaseException,
    ) -> bool:
        """Whether a write that failed with `error` was committed after all (a connection lost
        during COMMIT): looked up by the key's outcome, else by each aggregate's last event."""
        if not isinstance(error, _AMBIGUOUS):
            return False
        try:
            if keyed is not None:
                return idempotent.committed(self.engine.connect, keyed)
            for originator_id, event in last:
                version = event.originator_version
                found = self.recorder.select_events(originator_id, gt=version - 1, lte=version)
                if (
                    not found
                    or _timestamp(self.mapper.to_domain_event(found[0])) != event.timestamp
                ):
                    return False
            return bool(last)
        except (PersistenceError, SQLAlchemyError):
            return False  # still unreachable: answered as unavailable, the client retries

    def _replayed_aggregate(self) -> Any | None:
        """The aggregate a replayed keyed command committed, at the version it committed."""
        with self.keys.scope():
            return idempotent.replayed(idempotent.replay_aggregate(self.repository.get))

    def _saved_since_loaded(self, session: Session, aggregates: Sequence[Aggregate]) -> bool:
        """Take the events' write lock, then tell whether an aggregate has events stored after
        the version it was loaded at (another writer saved first)."""
        recorder = cast(CoreApplicationRecorder, self.recorder)
        table = recorder.events_record_cls.__table__
        if session.get_bind().dialect.name == "postgresql":
            recorder._lock_table(session)  # the lock the insert takes anyway, taken earlier
        else:  # SQLite: a write that changes nothing takes the database's write lock
            session.execute(update(table).where(false()).values(originator_version=0))
        for aggregate in aggregates:
            loaded = aggregate.version - len(aggregate.pending_events)
            stored = session.scalar(
                select(func.max(table.c.originator_version)).where(
                    table.c.originator_id == aggregate.id
                )
            )
            if (stored or 0) != loaded:
                return True
        return False

    def _load(self, cls: type[T], actor: Actor, aggregate_id: str, what: str) -> T:
        not_found = NotFound(f"{what} {aggregate_id} not found")
        try:
            uid = UUID(aggregate_id)
        except ValueError:
            raise not_found from None
        # Tenant first, from the index: another municipality's id answers exactly like a missing
        # one, and as fast, because its events are never read (no timing oracle).
        if tenant_of(self.engine, uid) != actor.municipality_id:
            raise not_found
        try:
            aggregate: Any = self.repository.get(uid, projector_func=project_events)
        except AggregateNotFoundError:
            raise not_found from None
        if not isinstance(aggregate, cls) or aggregate.municipality_id != actor.municipality_id:  # type: ignore[attr-defined]
            raise not_found
        return aggregate

    def load_case(self, actor: Actor, case_id: str) -> SupportCase:
        """Return the case if it exists in the actor's municipality."""
        return self._load(SupportCase, actor, case_id, "case")

    def load_meeting(self, actor: Actor, meeting_id: str) -> Meeting:
        """Return the meeting if it exists in the actor's municipality."""
        return self._load(Meeting, actor, meeting_id, "meeting")

    def _change(
        self,
        command: str,
        actor: Actor,
        case_id: str,
        expected_version: int | None,
        change: Callable[[SupportCase], Any],
    ) -> CaseResult:
        if (replayed := idempotent.replayed(idempotent.replay_result(CaseResult))) is not None:
            return cast(CaseResult, replayed)
        authorize(actor.role, command)
        decided: list[tuple[SupportCase, Any]] = []  # the last decision is the one saved

        def decide() -> list[Aggregate]:
            case = self.load_case(actor, case_id)
            self.ensure_involved(actor, case, command)
            if expected_version is not None and expected_version != case.version:
                raise VersionConflict(
                    f"expected version {expected_version}, the case is at version {case.version}"
                )
            decided.append((case, change(case)))
            return [case]

        def result() -> CaseResult:
            case, extra = decided[-1]
            return CaseResult(
                case_id=str(case.id),
                version=case.version,
                state=case.state,
                allowed_commands=case.allowed_commands,
                extra=extra or {},
            )

        def attempt() -> CaseResult:
            refresh = decide if expected_version is None else None
            self._commit(*decide(), outcome=result, refresh=refresh)
            return result()

        return on_fresh_version(expected_version, attempt)

    # --- commands -----------------------------------------------------------------------------

    def refer_case(
        self, actor: Actor, referral: Json, person: Json, household: list[Json]
    ) -> CaseResult:
        """Open a case from a referral or direct consultation (R-INT-1)."""
        if (replayed := idempotent.replayed(idempotent.replay_result(CaseResult))) is not None:
            return cast(CaseResult, replayed)
        authorize(actor.role, "refer_case")
        if actor.role in REFERRER_ROLES:
            # A referring agency refers as itself: the referrer comes from the credential.
            referral = {
                **referral,
                "referrer_agency_id": actor.agency_id,
                "referrer_kind": str(actor.role),
            }
        case = SupportCase.refer(actor, referral, person, household)
        result = CaseResult(str(case.id), case.version, case.state, case.allowed_commands)
        self._commit(case, outcome=result)
        return result

    def record_explanation(
        self, actor: Actor, case_id: str, ev: int | None, **kw: Any
    ) -> CaseResult:
        """Record an explanation or accompaniment (R-INT-3)."""
        return self._change(
            "record_explanation", actor, case_id, ev, lambda c: c.record_explanation(actor, **kw)
        )

    def give_consent(self, actor: Actor, case_id: str, ev: int | None, consent: Json) -> CaseResult:
        """Record a person's consent (R-INT-2, R-CON-1, R-CON-5)."""
        return self._change(
            "give_consent",
            actor,
            case_id,
            ev,
            lambda c: {"consent_id": c.give_consent(actor, consent)},
        )

    def withdraw_consent(self, actor: Actor, case_id: str, ev: int | None, **kw: Any) -> CaseResult:
        """Withdraw a consent (R-CON-3)."""
        return self._change(
            "withdraw_consent", actor, case_id, ev, lambda c: c.withdraw_consent(actor, **kw)
        )

    def start_assessment(self, actor: Actor, case_id: str, ev: int | None) -> CaseResult:
        """Start the assessment (R-INT-2)."""
        return self._change(
            "start_assessment", actor, case_id, ev, lambda c: c.start_assessment(actor)
        )

    def refer_to_council(
        self, actor: Actor, case_id: str, ev: int | None, reason: str
    ) -> CaseResult:
        """Put the case on the support-council track (R-CON-2)."""
        return self._change(
            "refer_to_council", actor, case_id, ev, lambda c: c.refer_to_council(actor, reason)
        )

    def return_to_referrer(
        self, actor: Actor, case_id: str, ev: int | None, consultation: Json
    ) -> CaseResult:
        """Return the case to its referrer (R-INT-4)."""
        return self._change(
            "return_to_referrer",
            actor,
            case_id,
            ev,
            lambda c: c.return_to_referrer(actor, consultation),
        )

    def record_early_start(
        self, actor: Actor, case_id: str, ev: int | None, **kw: Any
    ) -> CaseResult:
        """Record an early start of outreach or participation support (R-DEC-3)."""
        return self._change(
            "record_early_start", actor, case_id, ev, lambda c: c.record_early_start(actor, **kw)
        )

    def record_contact_attempt(
        self, actor: Actor, case_id: str, ev: int | None, attempt: Json
    ) -> CaseResult:
        """Record an attempt to reach the person (R-SUS-2)."""
        return self._change(
            "record_contact_attempt",
            actor,
            case_id,
            ev,
            lambda c: c.record_contact_attempt(actor, attempt),
        )

    def complete_assessment(
        self, actor: Actor, case_id: str, ev: int | None, assessment: Json
    ) -> CaseResult:
        """Record the intake-assessment sheet (R-ASM-1, R-ASM-2)."""
        return self._change(
            "complete_assessment",
            actor,
            case_id,
            ev,
            lambda c: c.complete_assessment(actor, assessment),
        )

    def draft_plan(self, actor: Actor, case_id: str, ev: int | None, plan: Json) -> CaseResult:
        """Write a new plan version (R-PLN-1)."""
        return self._change(
            "draft_plan",
            actor,
            case_id,
            ev,
            # The day it was drafted: a plan awaits its meeting from then (worklists).
            lambda c: {
                "plan_version": c.draft_plan(
                    actor, {**plan, "drafted_on": self.clock.today().isoformat()}
                )
            },
        )

    def approve_plan(
        self, actor: Actor, case_id: str, ev: int | None, meeting_id: str, replan: bool = False
    ) -> CaseResult:
        """Adopt the draft plan at its meeting (R-MTG-5 A / B)."""
        command = "approve_replan" if replan else "approve_plan"
        method = SupportCase.approve_replan if replan else SupportCase.approve_plan
        return self._change(
            command,
            actor,
            case_id,
            ev,
            lambda c: method(c, actor, self._evidence(actor, meeting_id, c)),
        )

    def decide_support(self, actor: Actor, case_id: str, ev: int | None, **kw: Any) -> CaseResult:
        """The municipality's support decision (R-DEC-1, R-DEC-2)."""
        return self._change(
            "decide_support", actor, case_id, ev, lambda c: c.decide_support(actor, **kw)
        )

    def record_monitoring(
        self, actor: Actor, case_id: str, ev: int | None, record: Json
    ) -> CaseResult:
        """Record monitoring (R-SUP-1)."""
        return self._change(
            "record_monitoring", actor, case_id, ev, lambda c: c.record_monitoring(actor, record)
        )

    def start_replan(self, actor: Actor, case_id: str, ev: int | None, reason: str) -> CaseResult:
        """Start a re-plan (R-PLN-3)."""
        return self._change(
            "start_replan", actor, case_id, ev, lambda c: c.start_replan(actor, reason)
        )

    def close_case(
        self, actor: Actor, case_id: str, ev: int | None, meeting_id: str, closure: Json
    ) -> CaseResult:
        """Close the case at its closure meeting (R-END-1..3, R-MTG-5 C)."""
        return self._change(
            "close_case",
            actor,
            case_id,
            ev,
            lambda c: c.close_case(actor, self._evidence(actor, meeting_id, c), closure),
        )

    def suspend_case(
        self, actor: Actor, case_id: str, ev: int | None, meeting_id: str, reason: str
    ) -> CaseResult:
        """Suspend the case at its suspension meeting (R-SUS-1, R-SUS-2, R-MTG-5 D)."""
        return self._change(
            "suspend_case",
            actor,
            case_id,
            ev,
            lambda c: c.suspend_case(
                actor,
                self._evidence(actor, meeting_id, c),
                reason,
                outreach_attempts=self.outreach_attempts(c),  # outreach visits count (R-SUS-2)
            ),
        )

    def resume_case(self, actor: Actor, case_id: str, ev: int | None, **kw: Any) -> CaseResult:
        """Resume a closed or suspended case (R-END-4, R-SUS-3)."""
        return self._change("resume_case", actor, case_id, ev, lambda c: c.resume_case(actor, **kw))

    def _evidence(self, actor: Actor, meeting_id: str, case: SupportCase) -> MeetingEvidence:
        return self.load_meeting(actor, meeting_id).evidence_for(str(case.id))

    def record_meeting(
        self, actor: Actor, kind: MeetingKind, agenda: list[Json], **kw: Any
    ) -> Meeting:
        """Record a held meeting with its agenda of cases (R-MTG-1..7, R-CON-2)."""
        if (replayed := self._replayed_aggregate()) is not None:
            return cast(Meeting, replayed)
        authorize(actor.role, "record_meeting")
        cases = [self.load_case(actor, item["case_id"]) for item in agenda]
        for case in cases:
            self.ensure_involved(actor, case, "record_meeting")
        meeting = Meeting.record(
            actor,
            kind=kind,
            agenda=agenda,
            consented_case_ids={str(c.id) for c in cases if c.has_application_for_use},
            plan_counts=self.plan_counts(cases, agenda),  # per case and service (R-OUT-4)
            **kw,
        )
        # A resource shortage becomes a community issue in the same transaction (R-RES-1).
        self._commit(meeting, *self.community_issues_from(actor, meeting))
        return meeting

    # --- history and rebuild --------------------------------------------------------------------

    def case_events(self, actor: Actor, case_id: str) -> list[Any]:
        """Return the case's stored events, oldest first (R-PLN-3: every version readable)."""
        authorize(actor.role, "read_case_events")
        case = self.load_case(actor, case_id)
        with self.keys.scope():
            return list(self.events.get(case.id))

    def all_events(self, batch: int = 500) -> Iterator[tuple[int, Any]]:
        """Yield (notification id, domain event) for every stored event in commit order."""
        start = 1
        while True:
            notifications = self.recorder.select_notifications(start=start, limit=batch)
            if not notifications:
                return
            for n in notifications:
                yield n.id, self.mapper.to_domain_event(n)
            start = notifications[-1].id + 1

    def erase_person(self, actor: Actor, case_id: str, person_id: str, reason: str) -> bool:
        """Destroy a person's data key (retention ended or a lawful request); history stays."""
        authorize(actor.role, "erase_personal_data")
        case = self.load_case(actor, case_id)
        self.ensure_involved(actor, case, "erase_personal_data")
        if person_id not in case.person_ids:
            raise NotFound(f"person {person_id} not found in case {case_id}")
        replayed = idempotent.replay_outcome()
        if replayed is not None:  # the key destroyed in its transaction: only project again
            erased = bool(replayed["erased"])
        else:
            within = idempotent.within(lambda done: {"erased": done})
            erased = self.keys.erase(case_id, person_id, reason, actor.agency_id, within)
            idempotent.committed_now()
        with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            runner.project(cast(Session, session), self.load_case(actor, case_id), self.keys)
        return erased

    def rebuild_read_models(
        self, watch: Callable[[Iterator[tuple[int, Any]]], Iterator[tuple[int, Any]]] | None = None
    ) -> int:
        """Rebuild every read model from zero; return the last position applied.

        The events are read aggregate by aggregate, so memory holds one aggregate at a time
        however long the history (bench/README.md). `watch` sees the events on their way in
        (the CLI draws its progress bar with it).
        """
        with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            recorder = cast(CoreApplicationRecorder, self.recorder)
            position = recorder.max_id()
            events = self._events_by_aggregate(recorder, position)
            return rebuild_by_aggregate(
                cast(Session, session), watch(events) if watch else events, self.keys, position
            )

    def _events_by_aggregate(
        self, recorder: CoreApplicationRecorder, stop: int, batch: int = 50
    ) -> Iterator[tuple[int, Any]]:
        """Yield (notification id, domain event) up to `stop`, aggregate after aggregate."""
        after: UUID | None = None
        while True:
            notifications, after = recorder.select_streams(after, batch, stop)
            if after is None:
                return
            with self.keys.scope():  # one aggregate's batch: each key looked up once
                events = [(n.id, self.mapper.to_domain_event(n)) for n in notifications]
            yield from events


def _timestamp(event: Any) -> Any:
    return event.timestamp


class _Factory(SQLAlchemyFactory):
    """eventsourcing-sqlalchemy's factory, whose datastore passes our options to create_engine."""

    # the library's recorders with Core statements (service/persistence/recorders.py)
    aggregate_recorder_class = CoreAggregateRecorder
    application_recorder_class = CoreApplicationRecorder

    def __init__(self, env: Environment, engine_options: Mapping[str, Any]) -> None:
        # The library's factory forwards only `creator` to the datastore's create_engine call.
        self.datastore_class = partial(SQLAlchemyDatastore, **engine_options)  # type: ignore[assignment]
        super().__init__(env)
