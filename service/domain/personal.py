"""Personal data (要配慮個人情報) apart from the workflow facts, and who may read it (R-CON-1..5).

The person's and each household member's identifying data, and the assessment narrative, are
personal data. An agency reads a person's data only on a basis: that person's active consent
covering the agency (by id or kind), or membership of a support council that took the case
(R-CON-2). Consent is per person (R-CON-5); a withdrawal takes effect on the next read (R-CON-3).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from service.domain.values import Actor, Role

Json = dict[str, Any]
MAIN_PERSON = "person"

# The implementing body and its coordinator act on the person's application itself (R-INT-2).
CASE_RUNNERS = frozenset({Role.municipality, Role.coordinator, Role.integration_client})


@dataclass(frozen=True)
class Basis:
    """Why a read of one person's data is allowed: `consent:<id>` or `council:<meeting id>`."""

    person_id: str
    basis: str | None
    reason: str | None = None  # the redaction reason when basis is None

    @property
    def allowed(self) -> bool:
        """Whether the data may be shown."""
        return self.basis is not None


def read_basis(
    actor: Actor,
    person_ids: Iterable[str],
    consents: list[Json],
    council_meetings: Mapping[str, Collection[str]],
) -> dict[str, Basis]:
    """Decide, per person, on what basis `actor` may read the person's data (R-CON-4)."""
    council = next(
        (mid for mid, agencies in council_meetings.items() if actor.agency_id in agencies), None
    )
    result: dict[str, Basis] = {}
    for person_id in person_ids:
        mine = [c for c in consents if c["person_id"] == person_id]
        active = [c for c in mine if c.get("withdrawn_on") is None]
        covering = next((c for c in active if _covers(c, actor)), None)
        if covering is not None:
            result[person_id] = Basis(person_id, f"consent:{covering['consent_id']}")
        elif council is not None:
            result[person_id] = Basis(person_id, f"council:{council}")
        elif mine and not active:
            result[person_id] = Basis(person_id, None, "consent_withdrawn")
        else:
            result[person_id] = Basis(person_id, None, "no_consent_covering_agency")
    return result


def _covers(consent: Json, actor: Actor) -> bool:
    if actor.role is Role.auditor:
        return False
    if actor.role in CASE_RUNNERS:
        return True  # the person consented to the municipality's service itself
    return actor.agency_id in consent.get("agency_ids", []) or str(actor.role) in consent.get(
        "agency_kinds", []
    )


def split_person(person: Json) -> tuple[Json, Json]:
    """Return (workflow facts, personal data) of a person or household member."""
    return {"person_id": person["person_id"]}, {k: v for k, v in person.items() if k != "person_id"}


def split_assessment(assessment: Json) -> tuple[Json, Json]:
    """Return (workflow facts, narrative) of an assessment; the narrative is the person's.

    Once the person's data key is destroyed, the domains read as erased as a whole (they are
    sealed as one field): the narrative is then erased too.
    """
    facts = {k: v for k, v in assessment.items() if k not in ("summary", "domains")}
    domains = assessment.get("domains", [])
    if not isinstance(domains, list):
        facts["domains"] = domains
        return facts, {"summary": assessment.get("summary", ""), "narratives": []}
    facts["domains"] = [{k: v for k, v in d.items() if k != "narrative"} for d in domains]
    narrative = {
        "summary": assessment.get("summary", ""),
        "narratives": [d.get("narrative", "") for d in domains],
    }
    return facts, narrative


def redacted(person_id: str, reason: str) -> Json:
    """Return what a reader without a basis sees in place of a person's data."""
    return {"person_id": person_id, "redacted": True, "redaction_reason": reason}
