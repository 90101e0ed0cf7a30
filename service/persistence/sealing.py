"""The event mapper that seals personal fields with the person's data key before storage."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder

from service.domain.personal import MAIN_PERSON, split_assessment
from service.persistence.crypto import KeyStore

Json = dict[str, Any]


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
        if kind == "CaseReferred":
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
        state = event.__dict__
        case_id, version = str(stored_event.originator_id), stored_event.originator_version
        if type(event).__name__ == "CaseReferred":
            state["person"] = self.keys.unseal(case_id, state["person"], f"{version}")
            state["household"] = [
                self.keys.unseal(case_id, member, f"{version}") for member in state["household"]
            ]
        elif type(event).__name__ == "AssessmentCompleted":
            assessment = dict(state["assessment"])
            narrative = self.keys.unseal(case_id, assessment.pop("narrative", None), f"{version}")
            state["assessment"] = join_assessment(assessment, narrative)
        return event


def join_assessment(facts: Json, narrative: Any) -> Json:
    """Put an assessment's narrative back into its facts (an erased narrative stays erased)."""
    if not isinstance(narrative, dict) or "narratives" not in narrative:
        return {**facts, "summary": narrative, "domains": facts.get("domains", [])}
    domains = [
        {**d, "narrative": n}
        for d, n in zip(facts.get("domains", []), narrative["narratives"], strict=False)
    ]
    return {**facts, "summary": narrative["summary"], "domains": domains}
