"""The event mapper that seals personal fields with the person's data key before storage.

Snapshots of a case hold the same personal fields as its events (the person, the household
members, the assessments' narratives): they are sealed the same way, bound to the snapshot's
version, so a snapshot holds no plaintext personal data and an erased person reads as erased
from a snapshot exactly as from the events.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, Snapshot
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic

from service.domain.case import SupportCase
from service.domain.personal import MAIN_PERSON, split_assessment
from service.persistence.crypto import KeyStore

Json = dict[str, Any]
CASE_TOPIC = get_topic(SupportCase)
# the event classes whose stored form holds sealed fields (snapshots: of a case only)
_SEALED_KINDS = frozenset({"CaseReferred", "AssessmentCompleted", "Snapshot"})


class SealingMapper(Mapper[UUID]):
    """Encrypts the person's and household members' data and the assessment narrative."""

    def __init__(self, transcoder: Transcoder, keys: KeyStore) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys

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
        else:
            return super().to_stored_event(domain_event)
        sealed_event = object.__new__(type(domain_event))
        object.__setattr__(sealed_event, "__dict__", state)
        return super().to_stored_event(sealed_event)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        """Load as usual, then open the sealed fields (erased persons read as erased)."""
        event = super().to_domain_event(stored_event)
        kind = type(event).__name__
        if kind not in _SEALED_KINDS:
            return event  # most events: nothing sealed (no key looked up, no id formatted)
        state = event.__dict__
        case_id, version = str(stored_event.originator_id), stored_event.originator_version
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
        return case

    def _open_case(self, case_id: str, context: str, case: Json) -> Json:
        """Open what `_seal_case` sealed (an erased person reads as erased)."""
        case = dict(case)
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
    domains = [
        {**d, "narrative": n}
        for d, n in zip(facts.get("domains", []), narrative["narratives"], strict=False)
    ]
    return {**facts, "summary": narrative["summary"], "domains": domains}
