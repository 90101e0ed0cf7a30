"""One classification of every field of the case, engagement and meeting records (issue 11).

Every key that appears in a command body, an event's payload, an aggregate's state or a read
view is declared here once, with its class:

- `identity`: who a person is (name, kana, sex, birth date, address, contact …); sealed with that
  person's data key, shown only on a basis for that person (R-CON-4, R-CON-5).
- `sensitive`: every free text, and anything that describes a person's situation (reasons,
  wishes, concerns, notes, goals, policies, summaries, evaluations, shortages); sealed with the
  key of the person it concerns (case-level text: the main person), shown on the same basis.
- `council`: what only a support council's members (and the municipality that hosts it) may
  see while the case has no consent (R-CON-2, R-ORG-2): the council referral's reason.
- `workflow`: states, dates, ids, codes, versions, flags, agency and role ids.

A key that is not declared is treated as sensitive (sealed, redacted, kept out of the feed), and
`tests/unit/test_classification.py` fails on it, so a new field cannot slip through unnoticed.
This module imports nothing but the standard library: the persistence layer seals, the views
redact and the feed filters by it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

Json = dict[str, Any]
MAIN_PERSON = "person"
# Keys of the sealed form (service/persistence/crypto.py) and of what replaces it on read.
SEALED = "__sealed__"
MARKER_KEYS = frozenset({SEALED, "redacted", "redaction_reason", "erased"})


class DataClass(StrEnum):
    """The class of a field: what protects it."""

    identity = "identity"
    sensitive = "sensitive"
    council = "council"
    workflow = "workflow"


ID, S, C, W = DataClass.identity, DataClass.sensitive, DataClass.council, DataClass.workflow

# The class of each key, wherever it appears (in a body, an event, a state or a view).
FIELD_CLASSES: dict[str, DataClass] = {
    # --- identity: a person's or household member's identifying data (whole records) ---------
    "person": ID,
    "household": ID,
    # inside those records (listed so a view or body of them is classified too)
    "name": ID,
    "name_kana": ID,
    "sex": ID,
    "birth_date": ID,
    "postal_code": ID,
    "address": ID,
    "phone": ID,
    "email": ID,
    "age": ID,
    "relationship": ID,
    "relation": ID,
    # --- sensitive: free text and the person's situation ---------------------------------------
    "reason": S,
    "wishes": S,
    "concerns": S,
    "main_concern": S,
    "note": S,
    "notes": S,
    "summary": S,
    "narrative": S,
    "narratives": S,
    "items": S,  # an assessment domain's items: what was found, in the assessor's words
    "goals": S,
    "policy": S,
    "evaluation": S,
    "goal_attainment": S,
    "cooperation": S,
    "consulted_with": S,  # whom the coordinator consulted at the referrer: free text
    "method": S,  # how consent was taken or follow-up is done: free text
    "role": S,  # a plan role's description (an agency's role is `agency_kind`)
    "menu": S,
    "menus": S,
    "purpose": S,
    "title": S,
    "resource_shortages": S,
    "text": S,
    "domain": S,  # the domains of the person's situation an assessment looked at
    "domains": S,
    # --- council: the support council's secret (R-CON-2) -----------------------------------------
    "council_referral": C,
    # --- workflow facts -------------------------------------------------------------------------
    **dict.fromkeys(
        (
            # ids, versions, states, labels
            "case_id",
            "case_ids",
            "person_id",
            "consent_id",
            "meeting_id",
            "engagement_id",
            "activity_id",
            "host_id",
            "issue_id",
            "municipality_id",
            "agency_id",
            "agency_ids",
            "agency_kind",
            "agency_kinds",
            "agencies",
            "referrer_agency_id",
            "referrer_kind",
            "lead_agency_id",
            "reused_council",
            "state",
            "state_label",
            "from_state",
            "to_state",
            "status",
            "previous",
            "version",
            "plan_version",
            "workflow_version",
            "from_version",
            "to_version",
            "class_version",
            "current_plan_version",
            "actor",
            "allowed_commands",
            "kind",
            "kind_label",
            "service",
            "service_label",
            "services",
            "timing",
            "outcome",
            "basis",
            "route",
            "party",
            "given_by",
            "meeting_format",
            "information_sources",
            "participants",
            "agenda",
            "meetings",
            # dates and times
            "on",
            "referred_on",
            "received_on",
            "given_on",
            "withdrawn_on",
            "consulted_on",
            "started_on",
            "decided_on",
            "approved_on",
            "drafted_on",
            "held_on",
            "resumed_on",
            "contact_restored_on",
            "requested_on",
            "monitoring_dates",
            "due_on",
            "next_contact_due",
            "starts_on",
            "paid_on",
            "period_from",
            "period_to",
            "raised_on",
            "changed_on",
            "referred_at",
            "updated_at",
            "recorded_at",
            # flags, counts, amounts
            "application_for_use",
            "reached",
            "contact_made",
            "connection_stable",
            "attended",
            "person_attended",
            "own_assessment",
            "granted",
            "needed",
            "before_consent",
            "pre_consent",
            "reopened",
            "amount_yen",
            "capacity",
            "restricted",
            # the aggregates' own bookkeeping, envelopes of views and events
            "id",
            "_id",
            "_version",
            "_created_on",
            "_modified_on",
            "created_on",
            "modified_on",
            "started_at",
            "attempts_since_contact",
            "meeting_ids",
            "case_version",
            "type",
            "payload",
            "erased",
            "raised_by",
            "raisings",
            "first_raised_on",
            "last_raised_on",
            "status_history",
            # records made of the fields above
            "referral",
            "consent",
            "consents",
            "explanation",
            "explanations",
            "consultation",
            "return_to_referrer",
            "assessment",
            "assessments",
            "start",
            "early_starts",
            "attempt",
            "contacts",
            "record",
            "monitoring",
            "plan",
            "plans",
            "current_plan",
            "roles",
            "decision",
            "closure",
            "closures",
            "follow_up",
            "hand_back",
            "suspension",
            "suspensions",
            "resumption",
            "resumptions",
            "activity",
            "intake",
            "match",
            "payment",
            "contact",
            "host",
            "return_to_referrer_record",
            "activities",
            "intakes",
            "matches",
            "settling_in",
            "follow_ups",
            "payments",
            "periodic_contacts",
        ),
        W,
    ),
}

# Where one event's key means something else than everywhere else.
EVENT_OVERRIDES: dict[tuple[str, str], DataClass] = {
    ("ReferredToCouncil", "reason"): C,  # why the case went to the council (R-CON-2)
}

# A record whose own `person_id` names whom its text concerns (a consent, an outreach
# activity about a household member); any other text concerns the main person. A record with a
# `case_id` (a meeting's agenda item) concerns that case's person.
PERSON_KEY = "person_id"
CASE_KEY = "case_id"
# Workflow records kept whole: their `role` is a role code, not a plan role's description.
WORKFLOW_RECORDS = frozenset({"actor", "participants", "host"})


def class_of(key: str, kind: str | None = None) -> DataClass | None:
    """Return the class of `key` (in event `kind`), or None when it is not declared."""
    if kind is not None:
        override = EVENT_OVERRIDES.get((kind, key))
        if override is not None:
            return override
    return FIELD_CLASSES.get(key)


def protected(key: str, kind: str | None = None) -> bool:
    """Whether a field is sealed at rest and shown only on a basis (undeclared: yes)."""
    return class_of(key, kind) is not W


def is_marker(value: Any) -> bool:
    """Whether `value` is a sealed value or what replaces one on read (redacted, erased)."""
    return isinstance(value, dict) and (SEALED in value or value.get("redacted") is True)


def has_content(value: Any) -> bool:
    """Whether a value says anything (an empty text or list has nothing to protect)."""
    return value not in (None, "", [], {})


@dataclass(frozen=True)
class Subject:
    """Whom a protected field concerns: a person of a case (None: the record's own stream)."""

    person_id: str
    case_id: str | None = None


# visit(path, class, value, subject) -> the value to put in its place
Visitor = Callable[[str, DataClass, Any, Subject], Any]


def transform(
    value: Any, visit: Visitor, kind: str | None = None, person: str = MAIN_PERSON
) -> Any:
    """Return a copy of `value` where every protected field is replaced by `visit`'s answer.

    The person a field concerns: a household member's record its own (`member-i`), a record
    with a `person_id` that person, anything else `person` (the case's main person). Values
    already sealed, redacted or erased are passed to `visit` as they are.
    """
    return _walk(value, visit, kind, "", Subject(person))


def _walk(value: Any, visit: Visitor, kind: str | None, path: str, subject: Subject) -> Any:
    if isinstance(value, list):
        return [_walk(v, visit, kind, f"{path}[{i}]", subject) for i, v in enumerate(value)]
    if not isinstance(value, dict) or is_marker(value):
        return value
    if isinstance(value.get(CASE_KEY), str) and path:
        subject = Subject(MAIN_PERSON, value[CASE_KEY])
    if isinstance(value.get(PERSON_KEY), str):
        subject = Subject(value[PERSON_KEY], subject.case_id)
    result: Json = {}
    for key, item in value.items():
        at = f"{path}.{key}" if path else key
        cls = class_of(key, kind) or DataClass.sensitive
        if key in WORKFLOW_RECORDS:
            result[key] = item
        elif cls is W:
            result[key] = _walk(item, visit, kind, at, subject)
        elif key == "household" and isinstance(item, list) and item:
            result[key] = [
                visit(f"{at}[{i}]", cls, member, Subject(_member_id(member, i), subject.case_id))
                for i, member in enumerate(item)
            ]
        elif key == "person" and isinstance(item, dict):
            result[key] = visit(at, cls, item, Subject(MAIN_PERSON, subject.case_id))
        else:
            result[key] = visit(at, cls, item, subject)
    return result


def _member_id(member: Any, index: int) -> str:
    if isinstance(member, dict) and isinstance(member.get(PERSON_KEY), str):
        return str(member[PERSON_KEY])
    return f"member-{index + 1}"


def workflow_facts(value: Any, kind: str | None = None) -> Any:
    """Return `value` with every protected field left out (what the feed and webhooks carry)."""
    dropped = object()

    def visit(path: str, cls: DataClass, item: Any, subject: Subject) -> Any:
        return dropped

    return _drop(transform(value, visit, kind), dropped)


def _drop(value: Any, dropped: object) -> Any:
    if isinstance(value, dict):
        return {
            k: _drop(v, dropped)
            for k, v in value.items()
            if v is not dropped and not (isinstance(v, list) and v and dropped in v)
        }
    if isinstance(value, list):
        return [_drop(v, dropped) for v in value if v is not dropped]
    return value


def made_before_consent(record: Any) -> bool:
    """Whether a record (or an event's payload holding one) was made on the council track before
    the person's consent (R-OUT-3): shown only to the council's side on every path."""
    if not isinstance(record, dict):
        return False
    if record.get("before_consent") is True:
        return True
    return any(isinstance(v, dict) and v.get("before_consent") is True for v in record.values())


def undeclared_keys(value: Any, path: str = "") -> set[str]:
    """Return the paths of keys in `value` that have no class (the completeness test's check)."""
    found: set[str] = set()
    if isinstance(value, list):
        for v in value:
            found |= undeclared_keys(v, f"{path}[]")
    elif isinstance(value, dict) and not is_marker(value):
        for key, item in value.items():
            at = f"{path}.{key}" if path else key
            if key not in FIELD_CLASSES:
                found.add(at)
            if class_of(key) is W and key not in WORKFLOW_RECORDS:
                found |= undeclared_keys(item, at)
    return found
