"""Municipality registers: participation hosts and community issues (R-PAR-3, R-RES-1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import Integer, LargeBinary, Text, column, select, table
from sqlalchemy.engine import Connection

from service.application.retry import on_fresh_version
from service.domain.community_issue import (
    ISSUE_STATUS_LABELS,
    CommunityIssue,
    IssueStatus,
    issue_id,
    issues_from_meeting,
    normalise,
)
from service.domain.errors import NotFound, RuleViolation, VersionConflict
from service.domain.host import HOST_KIND_LABELS, HOST_STATUS_LABELS, Host, HostKind, HostStatus
from service.domain.meeting import Meeting
from service.domain.permissions import authorize
from service.domain.personal import MAIN_PERSON, read_basis
from service.domain.values import Actor
from service.persistence.crypto import KeyStore
from service.persistence.schema import EVENTS_TABLE
from service.persistence.sealing import open_fields
from service.persistence.tables import (
    case_detail,
    case_meetings,
    community_issue_list,
    event_index,
    host_list,
    meeting_list,
)
from service.reports.state_report import (
    REPORT_EVENT_TYPES,
    ReportEvent,
    as_document,
    from_domain_event,
    state_report,
)
from service.views import _page

if TYPE_CHECKING:
    from eventsourcing.application import Repository
    from eventsourcing.domain import Aggregate
    from sqlalchemy.engine import Engine

T = TypeVar("T")
A = TypeVar("A", Host, CommunityIssue)

# Only the columns the report reads; the table itself belongs to eventsourcing-sqlalchemy.
_events = table(
    EVENTS_TABLE,
    column("id", Integer),
    column("topic", Text),
    column("state", LargeBinary),
)
Json = dict[str, Any]


class RegisterCommands:
    """Mixed into `Kasane`; uses its `_commit`, `_load` and `repository`."""

    if TYPE_CHECKING:

        def _commit(
            self,
            *aggregates: Aggregate,
            outcome: Any = None,
            refresh: Callable[[], Sequence[Aggregate]] | None = None,
        ) -> None: ...

        def _replayed_aggregate(self) -> Any | None: ...

        def _load(self, cls: type[T], actor: Actor, aggregate_id: str, what: str) -> T: ...

        @property
        def repository(self) -> Repository[UUID]: ...

        keys: KeyStore

        @property
        def engine(self) -> Engine: ...

        mapper: Mapper[UUID]

    # --- hosts (R-PAR-3) ------------------------------------------------------------------------

    def load_host(self, actor: Actor, host_id: str) -> Host:
        """Return the host if it exists in the actor's municipality (else NotFound)."""
        return self._load(Host, actor, host_id, "host")

    def register_host(
        self,
        actor: Actor,
        *,
        name: str,
        kind: str,
        capacity: int | None = None,
        contact: Json | None = None,
        fields_of_activity: list[str] | None = None,
    ) -> Host:
        """Add a host to the municipality's register of social resources (R-PAR-3)."""
        if (replayed := self._replayed_aggregate()) is not None:
            return cast(Host, replayed)
        authorize(actor.role, "register_host")
        host = Host.register(
            actor,
            name=name,
            kind=kind,
            capacity=capacity,
            contact=contact,
            fields_of_activity=fields_of_activity,
        )
        self._commit(host)
        return host

    def update_host(
        self, actor: Actor, host_id: str, expected_version: int | None, changes: Json
    ) -> Host:
        """Change a host's name, kind, capacity, contact or fields of activity (R-PAR-3)."""
        if (replayed := self._replayed_aggregate()) is not None:
            return cast(Host, replayed)
        authorize(actor.role, "update_host")

        def decide() -> Host:
            host = self._host_at(actor, host_id, expected_version)
            host.update(actor, changes)
            return host

        return self._decide_and_commit(expected_version, decide)

    def retire_host(
        self,
        actor: Actor,
        host_id: str,
        expected_version: int | None,
        *,
        retired_on: str,
        reason: str,
    ) -> Host:
        """Take a host out of matching; it stays in the register (R-PAR-3)."""
        if (replayed := self._replayed_aggregate()) is not None:
            return cast(Host, replayed)
        authorize(actor.role, "retire_host")

        def decide() -> Host:
            host = self._host_at(actor, host_id, expected_version)
            host.retire(actor, retired_on=retired_on, reason=reason)
            return host

        return self._decide_and_commit(expected_version, decide)

    def _decide_and_commit(self, expected_version: int | None, decide: Callable[[], A]) -> A:
        """Commit one register aggregate's decision; without an expected version it is decided
        again on the stored version when another writer saved first (the last one is saved)."""
        decided: list[A] = []

        def again() -> list[Aggregate]:
            decided.append(decide())
            return [decided[-1]]

        def attempt() -> A:
            self._commit(*again(), refresh=again if expected_version is None else None)
            return decided[-1]

        return on_fresh_version(expected_version, attempt)

    def read_host(self, actor: Actor, host_id: str) -> Host:
        """Return one host of the actor's municipality (R-PAR-3)."""
        authorize(actor.role, "read_host")
        return self.load_host(actor, host_id)

    def _host_at(self, actor: Actor, host_id: str, expected_version: int | None) -> Host:
        host = self.load_host(actor, host_id)
        if expected_version is not None and expected_version != host.version:
            raise VersionConflict(
                f"expected version {expected_version}, the host is at version {host.version}"
            )
        return host

    # --- community issues (R-RES-1) -------------------------------------------------------------

    def community_issues_from(self, actor: Actor, meeting: Meeting) -> list[CommunityIssue]:
        """Return the issues raised or linked by the meeting's resource shortages (R-RES-1).

        Called by `record_meeting`, which saves them with the meeting in one transaction.
        """
        existing: dict[UUID, CommunityIssue] = {}
        for text in meeting.resource_shortages:
            if not normalise(text):
                continue
            uid = issue_id(actor.municipality_id, text)
            try:
                found: Any = self.repository.get(uid)
            except AggregateNotFoundError:
                continue
            if isinstance(found, CommunityIssue):
                existing[uid] = found
        return issues_from_meeting(
            actor,
            meeting_id=str(meeting.id),
            held_on=meeting.held_on,
            shortages=meeting.resource_shortages,
            case_ids=meeting.case_ids,
            existing=existing,
        )

    def load_community_issue(self, actor: Actor, issue_id_: str) -> CommunityIssue:
        """Return the issue if it exists in the actor's municipality (else NotFound)."""
        return self._load(CommunityIssue, actor, issue_id_, "community issue")

    def change_community_issue_status(
        self,
        actor: Actor,
        issue_id_: str,
        expected_version: int | None,
        *,
        status: str,
        note: str,
        changed_on: str,
    ) -> CommunityIssue:
        """Move a community issue along its development work (R-RES-1)."""
        if (replayed := self._replayed_aggregate()) is not None:
            return cast(CommunityIssue, replayed)
        authorize(actor.role, "change_community_issue_status")

        def decide() -> CommunityIssue:
            issue = self.load_community_issue(actor, issue_id_)
            if expected_version is not None and expected_version != issue.version:
                raise VersionConflict(
                    f"expected version {expected_version}, the issue is at version {issue.version}"
                )
            issue.change_status(actor, status=status, note=note, changed_on=changed_on)
            return issue

        return self._decide_and_commit(expected_version, decide)

    # --- the state report (R-RPT-1) --------------------------------------------------------------

    def report_events(self, municipality_id: str, batch: int = 500) -> Iterator[ReportEvent]:
        """Yield the municipality's events the report reads, in commit order, batch by batch.

        The event index names each event's tenant and type; the events are decoded without
        unsealing (the report needs no personal data, so no person's key is used).
        """
        after = 0
        while True:
            query = (
                select(
                    event_index.c.notification_id,
                    event_index.c.originator_id,
                    event_index.c.originator_version,
                    _events.c.topic,
                    _events.c.state,
                )
                .join(_events, _events.c.id == event_index.c.notification_id)
                .where(
                    event_index.c.municipality_id == municipality_id,
                    event_index.c.event_type.in_(sorted(REPORT_EVENT_TYPES)),
                    event_index.c.notification_id > after,
                )
                .order_by(event_index.c.notification_id)
                .limit(batch)
            )
            with self.engine.connect() as conn:
                rows = conn.execute(query).all()
            if not rows:
                return
            for row in rows:
                stored = StoredEvent(
                    originator_id=UUID(row.originator_id),
                    originator_version=row.originator_version,
                    topic=row.topic,
                    state=bytes(row.state),
                )
                yield from_domain_event(Mapper.to_domain_event(self.mapper, stored))
            after = rows[-1].notification_id

    def report_figures(self, municipality_id: str, period_from: date, period_to: date) -> Json:
        """Return the state report of a municipality for [period_from, period_to] (R-RPT-1)."""
        if period_from > period_to:
            raise RuleViolation(
                "the period starts on or before the day it ends",
                code="invalid_report_period",
                rules=("R-RPT-1",),
            )
        figures = state_report(self.report_events(municipality_id), period_from, period_to)
        return as_document(municipality_id, period_from, period_to, figures)

    def read_state_report(self, actor: Actor, period_from: date, period_to: date) -> Json:
        """Return the state report of the actor's municipality (R-RPT-1)."""
        authorize(actor.role, "read_state_report")
        return self.report_figures(actor.municipality_id, period_from, period_to)

    # --- queries (read models only) -------------------------------------------------------------

    def list_hosts(
        self,
        actor: Actor,
        *,
        kind: str | None = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """Return a page of the municipality's host register, by name (R-PAR-3)."""
        authorize(actor.role, "list_hosts")
        where = [host_list.c.municipality_id == actor.municipality_id]
        if kind:
            where.append(host_list.c.kind == _member(HostKind, kind, "kind"))
        if status:
            where.append(host_list.c.status == _member(HostStatus, status, "status"))
        order = (host_list.c.name, host_list.c.host_id)
        page = _page(self.engine, select(host_list.c.document), where, order, limit, offset)
        page["items"] = [_host_view(json.loads(row["document"])) for row in page["items"]]
        return page

    def host_view(self, actor: Actor, host_id: str) -> Json:
        """Return one host of the register as the API shows it (R-PAR-3)."""
        authorize(actor.role, "read_host")
        with self.engine.connect() as conn:
            doc = conn.execute(
                select(host_list.c.document).where(
                    host_list.c.host_id == host_id,
                    host_list.c.municipality_id == actor.municipality_id,
                )
            ).scalar_one_or_none()
        if doc is None:
            raise NotFound(f"host {host_id} not found")
        return _host_view(json.loads(doc))

    def list_community_issues(
        self,
        actor: Actor,
        *,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """Return a page of the municipality's community issues, latest raised first (R-RES-1)."""
        authorize(actor.role, "list_community_issues")
        where = [community_issue_list.c.municipality_id == actor.municipality_id]
        if status:
            where.append(community_issue_list.c.status == _member(IssueStatus, status, "status"))
        order = (community_issue_list.c.last_raised_on.desc(), community_issue_list.c.issue_id)
        query = select(community_issue_list.c.document)
        page = _page(self.engine, query, where, order, limit, offset)
        with self.engine.connect() as conn:
            page["items"] = [
                _issue_view(conn, actor, self._opened_issue(row["document"]))
                for row in page["items"]
            ]
        return page

    def community_issue_view(self, actor: Actor, issue_id_: str) -> Json:
        """Return one community issue with the cases the actor may see (R-RES-1)."""
        authorize(actor.role, "read_community_issue")
        with self.engine.connect() as conn:
            doc = conn.execute(
                select(community_issue_list.c.document).where(
                    community_issue_list.c.issue_id == issue_id_,
                    community_issue_list.c.municipality_id == actor.municipality_id,
                )
            ).scalar_one_or_none()
            if doc is None:
                raise NotFound(f"community issue {issue_id_} not found")
            return _issue_view(conn, actor, self._opened_issue(doc))

    def _opened_issue(self, document: str) -> Json:
        """Open an issue's text, sealed at rest with the issue's own key. The register is the
        municipality's community-building record (R-RES-1): every role of it reads the text;
        a resource shortage names a missing resource, never a person."""
        doc = json.loads(document)
        opened: Json = open_fields(self.keys, doc["issue_id"], doc, None, "read-model")
        return opened


def _member(kind: Any, value: str, what: str) -> str:
    try:
        return str(kind(value))
    except ValueError:
        raise RuleViolation(
            f"unknown {what} {value!r}; one of: {', '.join(kind)}",
            code=f"invalid_{what}_filter",
        ) from None


def _host_view(doc: Json) -> Json:
    return {
        **doc,
        "kind_label": HOST_KIND_LABELS[doc["kind"]],
        "status_label": HOST_STATUS_LABELS[doc["status"]],
    }


def _issue_view(conn: Connection, actor: Actor, doc: Json) -> Json:
    """Show the raising cases' ids only where the actor may read the case's person (R-CON-4).

    A reader without a basis (consent covering its agency, or membership of a support council
    that took the case) sees only how many cases and meetings raised the issue.
    """
    case_ids = list(dict.fromkeys(c for r in doc["raisings"] for c in r["case_ids"]))
    visible = [c for c in case_ids if _may_read_case(conn, actor, c)]
    return {
        "issue_id": doc["issue_id"],
        "text": doc["text"],
        "status": doc["status"],
        "status_label": ISSUE_STATUS_LABELS[doc["status"]],
        "first_raised_on": doc["first_raised_on"],
        "last_raised_on": doc["last_raised_on"],
        "meeting_count": len(doc["raisings"]),
        "case_count": len(case_ids),
        "case_ids": visible,
        "undisclosed_case_count": len(case_ids) - len(visible),
        "status_history": doc["status_history"],
        "version": doc["version"],
    }


def _may_read_case(conn: Connection, actor: Actor, case_id: str) -> bool:
    document = conn.execute(
        select(case_detail.c.document).where(
            case_detail.c.case_id == case_id,
            case_detail.c.municipality_id == actor.municipality_id,
        )
    ).scalar_one_or_none()
    if document is None:
        return False
    councils = {
        meeting_id: [
            p["agency_id"] for p in json.loads(doc)["participants"] if p.get("attended", True)
        ]
        for meeting_id, doc in conn.execute(
            select(meeting_list.c.meeting_id, meeting_list.c.document)
            .join(case_meetings, case_meetings.c.meeting_id == meeting_list.c.meeting_id)
            .where(case_meetings.c.case_id == case_id, case_meetings.c.kind == "support_council")
        ).all()
    }
    consents = json.loads(document).get("consents", [])
    return read_basis(actor, [MAIN_PERSON], consents, councils)[MAIN_PERSON].allowed
