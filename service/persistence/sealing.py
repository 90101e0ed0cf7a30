"""The event mapper that seals personal fields with the person's data key before storage.

Every field that `service/domain/classification.py` classes as identity, sensitive or council
is sealed, in place, with the data key of the person it concerns, bound to its stream, version
and path (associated data): the person's and household members' records and the assessment
narrative as before, and every free text of a case, its engagements and its meetings. Snapshots
of a case hold the same fields as its events: they are sealed the same way, bound to the
snapshot's version, so nothing protected is stored in plaintext and an erased person's fields
read as erased from a snapshot exactly as from the events.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic
from sqlalchemy import Integer, LargeBinary, column, select, table
from sqlalchemy.engine import Connection

from service.domain.case import SupportCase
from service.domain.classification import Subject, has_content, is_marker, transform
from service.domain.community_issue import CommunityIssue
from service.domain.engagement import ServiceEngagement
from service.domain.meeting import Meeting
from service.domain.personal import MAIN_PERSON, split_assessment
from service.persistence.crypto import SEALED, KeyStore
from service.persistence.schema import EVENTS_TABLE
from service.persistence.tables import event_index

Json = dict[str, Any]
CASE_TOPIC = get_topic(SupportCase)
# Streams whose free text is not about one person use a key of their own (erased with nothing).
STREAM_SUBJECT = "stream"
# The aggregates whose events are sealed field by field, and whose person a text concerns.
_CASE_EVENTS = (SupportCase.Event, ServiceEngagement.Event)
_STREAM_EVENTS = (Meeting.Event, CommunityIssue.Event)
# The events whose whole records the mapper seals first (then every event field by field).
_RECORD_SEALED = frozenset({"CaseReferred", "AssessmentCompleted", "Snapshot"})
# Only the columns read here; the table belongs to eventsourcing-sqlalchemy.
_events = table(EVENTS_TABLE, column("id", Integer), column("state", LargeBinary))
_EXCLUDED = ("originator_id", "originator_version", "timestamp", "originator_topic")


class SealingMapper(Mapper[UUID]):
    """Encrypts the person's and household members' data and the assessment narrative."""

    def __init__(self, transcoder: Transcoder, keys: KeyStore) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys
        self._engagement_cases: dict[str, str] = {}

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """Seal the personal fields, then store as usual."""
        state = dict(vars(domain_event))
        case_id, version = str(state["originator_id"]), state["originator_version"]
        kind = type(domain_event).__name__
        if isinstance(domain_event, Snapshot):
            if state["topic"] != CASE_TOPIC:
                return super().to_stored_event(domain_event)
            state["state"] = self._seal_case(case_id, f"snapshot-{version}", state["state"])
        elif kind == "CaseReferred":
            state["person"] = self.keys.seal(case_id, MAIN_PERSON, state["person"], f"{version}")
            state["household"] = [
                self.keys.seal(case_id, f"member-{i}", member, f"{version}")
                for i, member in enumerate(state["household"], start=1)
            ]
        elif kind == "AssessmentCompleted":
            facts, narrative = split_assessment(state["assessment"])
            sealed = self.keys.seal(case_id, MAIN_PERSON, narrative, f"{version}")
            state["assessment"] = {**facts, "narrative": sealed}
        if not isinstance(domain_event, Snapshot):
            owner = self._owner(domain_event, state)
            if owner is None:
                return super().to_stored_event(domain_event)
            payload = {k: v for k, v in state.items() if k not in _EXCLUDED}
            sealed_payload = seal_fields(self.keys, owner[0], payload, kind, f"{version}", owner[1])
            state.update(sealed_payload)
        sealed_event = object.__new__(type(domain_event))
        object.__setattr__(sealed_event, "__dict__", state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Load as usual, then open the sealed fields (erased persons read as erased)."""
        event = super().to_domain_event(stored_event)
        if type(event).__name__ == "EngagementStarted":
            self._engagement_cases[str(stored_event.originator_id)] = str(vars(event)["case_id"])
        kind = type(event).__name__
        if kind not in _RECORD_SEALED and SEALED.encode() not in stored_event.state:
            return event  # nothing sealed (no key looked up, no id formatted)
        state = event.__dict__
        case_id, version = str(stored_event.originator_id), stored_event.originator_version
        if not isinstance(event, Snapshot):  # field by field first, then the whole records
            owner = self._owner(event, state)
            stream = owner[0] if owner else case_id
            payload = {k: v for k, v in state.items() if k not in _EXCLUDED}
            state.update(open_fields(self.keys, stream, payload, kind, f"{version}"))
        if isinstance(event, Snapshot):
            if state["topic"] == CASE_TOPIC:
                state["state"] = self._open_case(case_id, f"snapshot-{version}", state["state"])
        elif kind == "CaseReferred":
            state["person"] = self.keys.unseal(case_id, state["person"], f"{version}")
            state["household"] = [
                self.keys.unseal(case_id, member, f"{version}") for member in state["household"]
            ]
        elif kind == "AssessmentCompleted":
            assessment = dict(state["assessment"])
            narrative = self.keys.unseal(case_id, assessment.pop("narrative", None), f"{version}")
            state["assessment"] = join_assessment(assessment, narrative)
        return event

    def _owner(self, event: Any, state: Json) -> tuple[str, str] | None:
        """Return (the stream whose keys seal the event's fields, its default person)."""
        originator = str(state["originator_id"])
        if isinstance(event, SupportCase.Event):
            return originator, MAIN_PERSON
        if isinstance(event, ServiceEngagement.Event):
            case_id = state.get("case_id")
            if case_id is not None:
                self._engagement_cases[originator] = str(case_id)
            return str(case_id or self._case_of_engagement(originator)), MAIN_PERSON
        if isinstance(event, _STREAM_EVENTS):
            return originator, STREAM_SUBJECT
        return None

    def _case_of_engagement(self, engagement: str) -> str:
        """Return the case an engagement belongs to (remembered, else from its first event)."""
        case_id = self._engagement_cases.get(engagement)
        if case_id is None:
            query = (
                select(_events.c.state)
                .join(event_index, event_index.c.notification_id == _events.c.id)
                .where(
                    event_index.c.originator_id == engagement,
                    event_index.c.originator_version == 1,
                )
            )
            with self.keys.engine.connect() as conn:
                first = conn.execute(query).scalar_one()
            case_id = str(self.transcoder.decode(bytes(first))["case_id"])
            self._engagement_cases[engagement] = case_id
        return case_id

    def _seal_case(self, case_id: str, context: str, case: Json) -> Json:
        """Seal the personal fields of a case's state (a snapshot's)."""
        case = dict(case)
        case["person"] = self.keys.seal(case_id, MAIN_PERSON, case["person"], context)
        case["household"] = [
            self.keys.seal(case_id, member["person_id"], member, context)
            for member in case["household"]
        ]
        assessments = []
        for i, assessment in enumerate(case.get("assessments", [])):
            facts, narrative = split_assessment(assessment)
            sealed = self.keys.seal(case_id, MAIN_PERSON, narrative, f"{context}-assessment-{i}")
            assessments.append({**facts, "narrative": sealed})
        case["assessments"] = assessments
        return seal_in_bundles(self.keys, case_id, case, context)

    def _open_case(self, case_id: str, context: str, case: Json) -> Json:
        """Open what `_seal_case` sealed (an erased person reads as erased)."""
        case = open_bundles(self.keys, case_id, case, context)
        case["person"] = self.keys.unseal(case_id, case["person"], context)
        case["household"] = [
            self.keys.unseal(case_id, member, context) for member in case["household"]
        ]
        assessments = []
        for i, assessment in enumerate(case.get("assessments", [])):
            facts = dict(assessment)
            narrative = self.keys.unseal(
                case_id, facts.pop("narrative", None), f"{context}-assessment-{i}"
            )
            assessments.append(join_assessment(facts, narrative))
        case["assessments"] = assessments
        return case


def join_assessment(facts: Json, narrative: Any) -> Json:
    """Put an assessment's narrative back into its facts (an erased narrative stays erased)."""
    if not isinstance(narrative, dict) or "narratives" not in narrative:
        return {**facts, "summary": narrative, "domains": facts.get("domains", [])}
    if not isinstance(facts.get("domains"), list):  # erased as a whole
        return {**facts, "summary": narrative["summary"]}
    domains = [
        {**d, "narrative": n}
        for d, n in zip(facts.get("domains", []), narrative["narratives"], strict=False)
    ]
    return {**facts, "summary": narrative["summary"], "domains": domains}


def seal_fields(
    keys: KeyStore,
    stream: str,
    value: Any,
    kind: str | None,
    context: str,
    person: str,
    conn: Connection | None = None,
) -> Any:
    """Seal every protected field of `value` in place with the key of the person it concerns.

    `stream` is the case (or meeting, community issue) whose keys are used unless a record names
    another case (a meeting's agenda item); `context` binds each ciphertext to its place.
    """

    found: dict[tuple[str, str], bytes | None] = {}

    def visit(path: str, cls: Any, item: Any, subject: Subject) -> Any:
        if not has_content(item) or is_marker(item):
            return item
        case_id = subject.case_id or stream
        where = (case_id, subject.person_id)
        if where not in found:
            found[where] = keys.key(*where, conn)
        token = keys.seal_with(found[where], *where, item, f"{context}:{path}")
        if SEALED not in token:
            return token  # the person's key is destroyed: the text is erased
        token["field"] = True
        if case_id != stream:
            token["case_id"] = case_id
        return token

    return transform(value, visit, kind, person)


def open_fields(keys: KeyStore, stream: str, value: Any, kind: str | None, context: str) -> Any:
    """Open what `seal_fields` sealed (an erased person's fields read as erased)."""

    found: dict[tuple[str, str], bytes | None] = {}

    def visit(path: str, cls: Any, item: Any, subject: Subject) -> Any:
        if isinstance(item, dict) and item.get("field") is True and SEALED in item:
            where = (str(item.get("case_id", stream)), str(item["person_id"]))
            if where not in found:
                found[where] = keys.key(*where)
            return keys.unseal_with(found[where], where[0], item, f"{context}:{path}")
        return item

    return transform(value, visit, kind)


# Where a snapshot keeps its sealed bundles, and the mark left at each field's place.
BUNDLES, REF = "__bundles__", "__ref__"


def seal_in_bundles(keys: KeyStore, case_id: str, state: Json, context: str) -> Json:
    """Seal a snapshot's protected fields as one bundle per person (field path → value), each
    field's place marked by its path: a long case's snapshot costs one encryption a person,
    not one a field."""
    bundles: dict[str, Json] = {}

    def visit(path: str, cls: Any, item: Any, subject: Subject) -> Any:
        if not has_content(item) or is_marker(item):
            return item
        bundles.setdefault(subject.person_id, {})[path] = item
        return {REF: path}

    marked: Json = transform(state, visit, None, MAIN_PERSON)
    marked[BUNDLES] = [
        keys.seal(case_id, person_id, fields, f"{context}:bundle")
        for person_id, fields in sorted(bundles.items())
    ]
    return marked


def open_bundles(keys: KeyStore, case_id: str, state: Json, context: str) -> Json:
    """Put back what `seal_in_bundles` sealed (an erased person's fields read as erased)."""
    state = dict(state)
    values: dict[str, Any] = {}
    for sealed in state.pop(BUNDLES, []):
        opened = keys.unseal(case_id, sealed, f"{context}:bundle")
        if isinstance(opened, dict) and opened.get("erased") is True and "person_id" in opened:
            erased = {"person_id": opened["person_id"], "erased": True}
            values[f"erased:{opened['person_id']}"] = erased
        else:
            values.update(opened)

    def visit(path: str, cls: Any, item: Any, subject: Subject) -> Any:
        if isinstance(item, dict) and set(item) == {REF}:
            erased = values.get(f"erased:{subject.person_id}")
            return values.get(path, erased)
        return item

    opened_state: Json = transform(state, visit, None, MAIN_PERSON)
    return opened_state
