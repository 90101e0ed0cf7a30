"""Builders for the unit tests: actors, referrals, consents, plans and meetings.

The people and agencies come from the fictional cases of `shared/domain/EXAMPLES.md`
(山田ハナ 8050, 佐藤ミキ double care, 鈴木ケン lost contact, 高橋ユイ returned to the referrer, the
council-only couple). Every builder goes through the public commands of the aggregates, so a
case built here has passed the same gates as a case built by a user.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from eventsourcing.application import Application

from service.domain.case import SupportCase
from service.domain.errors import CommandNotAllowed, DomainError
from service.domain.evidence import AgendaDecision, MeetingEvidence
from service.domain.meeting import Meeting
from service.domain.values import Actor, MeetingKind, Outcome, Role, Timing
from service.domain.workflow import support_case_workflow

Json = dict[str, Any]

MUNICIPALITY_ID = "asahi-shi"

# the acting parties of the fictional 朝日市
COORDINATOR = Actor(MUNICIPALITY_ID, "takikan-kasane", Role.coordinator)
CITY = Actor(MUNICIPALITY_ID, "asahi-fukushi-ka", Role.municipality)
CENTER = Actor(MUNICIPALITY_ID, "hokatsu-minami", Role.community_general_support_center)
SELF_RELIANCE = Actor(MUNICIPALITY_ID, "jiritsu-soudan", Role.self_reliance_consultation)
DISABILITY = Actor(MUNICIPALITY_ID, "shogai-soudan", Role.disability_consultation)
CHILD_SUPPORT = Actor(MUNICIPALITY_ID, "riyousha-shien", Role.child_user_support)
OUTREACH = Actor(MUNICIPALITY_ID, "outreach-hikari", Role.outreach_provider)
PARTICIPATION = Actor(MUNICIPALITY_ID, "sanka-nagomi", Role.participation_provider)
COMMUNITY_BUILDING = Actor(MUNICIPALITY_ID, "chiiki-zukuri", Role.community_building_provider)

NON_MUNICIPAL_ROLES = [role for role in Role if role is not Role.municipality]

COORDINATION_STATES = frozenset(
    {"assessment", "planning", "awaiting_decision", "in_support", "replanning"}
)


def workflow():
    """Return the workflow in force."""
    return support_case_workflow()


def participant(actor: Actor, attended: bool = True) -> Json:
    """Return one participant entry of a meeting."""
    return {"agency_id": actor.agency_id, "role": str(actor.role), "attended": attended}


MANDATORY = [participant(COORDINATOR), participant(CITY)]
REGULAR_MEETING = [
    *MANDATORY,
    participant(CENTER),
    participant(SELF_RELIANCE),
    participant(OUTREACH),
]


# --- referral and consent ------------------------------------------------------------------


def referral_from(referrer: Actor, reason: str, *, route: str = "referral") -> Json:
    """Return a referral record: the referrer agency, its kind and the compound needs (R-INT-1)."""
    return {
        "route": route,
        "referrer_agency_id": referrer.agency_id,
        "referrer_kind": str(referrer.role),
        "reason": reason,
        "referred_on": "2026-04-01",
    }


def application(
    agencies: Sequence[str] = ("hokatsu-minami",),
    *,
    given_by: str = "person",
    given_on: str = "2026-04-01",
    method: str = "form",
) -> Json:
    """Return the person's application for use with sharing consent (R-INT-2, R-CON-1)."""
    return {
        "person_id": "person",
        "application_for_use": True,
        "agencies": list(agencies),
        "given_by": given_by,
        "given_on": given_on,
        "method": method,
    }


def sharing_consent(person_id: str, agencies: Sequence[str] = ("hokatsu-minami",)) -> Json:
    """Return a consent to share only, without an application for use (R-CON-1, R-CON-5)."""
    return {
        "person_id": person_id,
        "application_for_use": False,
        "agencies": list(agencies),
        "given_by": "person",
        "given_on": "2026-04-02",
        "method": "form",
    }


def refer_yamada() -> SupportCase:
    """山田ハナ (82) and her withdrawn son タロウ, referred by the 地域包括支援センター."""
    return SupportCase.refer(
        CENTER,
        referral_from(CENTER, "未払いの請求書、同居の長男が訪問を拒否（8050）"),
        {"name": "山田ハナ", "age": 82},
        [{"name": "山田タロウ", "age": 53, "relation": "son"}],
    )


def refer_sato() -> SupportCase:
    """佐藤ミキ (41): double care and rent arrears, referred by the child user-support service."""
    return SupportCase.refer(
        CHILD_SUPPORT,
        referral_from(CHILD_SUPPORT, "ダブルケア（発達障害の子・認知症の父）と家賃滞納"),
        {"name": "佐藤ミキ", "age": 41},
        [
            {"name": "佐藤ソラ", "age": 9, "relation": "child"},
            {"name": "佐藤ゲン", "age": 74, "relation": "father"},
        ],
    )


def refer_suzuki() -> SupportCase:
    """鈴木ケン (19), left a children's home, referred by the self-reliance consultation."""
    return SupportCase.refer(
        SELF_RELIANCE,
        referral_from(SELF_RELIANCE, "児童養護施設退所後の不安定就労・住居"),
        {"name": "鈴木ケン", "age": 19},
        [],
    )


def refer_takahashi() -> SupportCase:
    """高橋ユイ (34), referred by the disability consultation."""
    return SupportCase.refer(
        DISABILITY,
        referral_from(DISABILITY, "就労と障害福祉サービスの調整"),
        {"name": "高橋ユイ", "age": 34},
        [],
    )


def refer_hoarding_couple() -> SupportCase:
    """An elderly couple with hoarding, reported by a neighbour; they refuse any contact."""
    return SupportCase.refer(
        COORDINATOR,
        {
            "route": "direct_consultation",
            "reason": "近隣住民と民生委員からの相談：ため込み、セルフネグレクトの疑い",
            "referred_on": "2026-05-01",
        },
        {"name": "夫（匿名）", "age": 80},
        [{"name": "妻（匿名）", "age": 78, "relation": "wife"}],
    )


# --- plans ---------------------------------------------------------------------------------


def plan(
    services: Iterable[str] = (),
    *,
    roles: Sequence[Actor] = (CENTER, SELF_RELIANCE),
    goals: Sequence[str] = ("世帯の家計を安定させる",),
    policy: str = "包括と自立相談で家計と生活を支え、本人との関係をつくる",
    monitoring_dates: Sequence[str] = ("2026-07-10", "2026-08-10"),
) -> Json:
    """Return a complete plan (R-PLN-1): goals, policy, roles, monitoring and services."""
    return {
        "goals": list(goals),
        "policy": policy,
        "roles": [
            {"agency_id": a.agency_id, "agency_kind": str(a.role), "role": f"{a.role} の役割"}
            for a in roles
        ],
        "monitoring_dates": list(monitoring_dates),
        "services": list(services),
    }


# --- meetings ------------------------------------------------------------------------------


def item(
    case: SupportCase, timing: Timing | str, plan_version: int | None, outcome: str = "approved"
) -> Json:
    """Return one agenda item of a meeting for a case."""
    return {
        "case_id": str(case.id),
        "timing": str(timing),
        "plan_version": plan_version,
        "outcome": outcome,
    }


def hold_meeting(
    agenda: list[Json],
    *,
    kind: MeetingKind = MeetingKind.layered_support_meeting,
    host: Actor = COORDINATOR,
    participants: list[Json] | None = None,
    consented: Iterable[str] | None = None,
    **extra: Any,
) -> Meeting:
    """Record a held meeting through `Meeting.record`; by default every case has consent."""
    return Meeting.record(
        host,
        kind=kind,
        held_on="2026-06-10",
        meeting_format="online",
        participants=list(REGULAR_MEETING if participants is None else participants),
        agenda=agenda,
        consented_case_ids=set((i["case_id"] for i in agenda) if consented is None else consented),
        **extra,
    )


def meeting_for(
    case: SupportCase,
    timing: Timing | str,
    plan_version: int | None,
    outcome: str = "approved",
) -> MeetingEvidence:
    """Hold a layered support meeting with one agenda item and return its evidence for the case."""
    meeting = hold_meeting([item(case, timing, plan_version, outcome)])
    return meeting.evidence_for(str(case.id))


def evidence(
    *,
    kind: MeetingKind = MeetingKind.layered_support_meeting,
    roles: Iterable[Role] = (Role.coordinator, Role.municipality),
    timing: Timing = Timing.plan,
    plan_version: int | None = 1,
    outcome: Outcome = Outcome.approved,
    meeting_id: str = "meeting-direct",
) -> MeetingEvidence:
    """Build a meeting's evidence directly, for gates `Meeting.record` would not let through."""
    return MeetingEvidence(
        meeting_id=meeting_id,
        kind=kind,
        attended_roles=frozenset(roles),
        decision=AgendaDecision(timing=timing, plan_version=plan_version, outcome=outcome),
    )


# --- walking a case along the workflow -----------------------------------------------------


def consented(case: SupportCase) -> SupportCase:
    """The person applies for use (R-INT-2)."""
    case.give_consent(
        COORDINATOR, application(("hokatsu-minami", "jiritsu-soudan", "outreach-hikari"))
    )
    return case


def in_assessment(case: SupportCase) -> SupportCase:
    """Consent and start the assessment."""
    consented(case).start_assessment(COORDINATOR)
    return case


def in_planning(case: SupportCase) -> SupportCase:
    """Consent, assess and compile the intake-assessment sheet."""
    in_assessment(case).complete_assessment(
        COORDINATOR,
        {"sources": ["referrer", "hokatsu-minami"], "summary": "家計の破綻と長男のひきこもり"},
    )
    return case


def awaiting_decision(case: SupportCase, services: Iterable[str] = ("outreach",)) -> SupportCase:
    """Plan v1 using outreach/participation, approved at meeting A; the decision is pending."""
    in_planning(case)
    version = case.draft_plan(COORDINATOR, plan(services))
    case.approve_plan(COORDINATOR, meeting_for(case, Timing.plan, version))
    assert case.state == "awaiting_decision"
    return case


def in_support(case: SupportCase, services: Iterable[str] = ()) -> SupportCase:
    """Plan v1 in effect: directly after meeting A, or after the municipality's decision."""
    services = list(services)
    if services:
        awaiting_decision(case, services)
        case.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12")
    else:
        in_planning(case)
        version = case.draft_plan(COORDINATOR, plan())
        case.approve_plan(COORDINATOR, meeting_for(case, Timing.plan, version))
    assert case.state == "in_support"
    return case


def in_replanning(case: SupportCase, services: Iterable[str] = ()) -> SupportCase:
    """Plan v1 in effect, re-plan started."""
    in_support(case, services).start_replan(COORDINATOR, "本人の状態の変化")
    return case


def unreached(on: str = "2026-08-01", kind: str = "home_visit") -> Json:
    """Return a contact attempt that did not reach the person (R-SUS-2)."""
    return {"kind": kind, "on": on, "reached": False, "note": "応答なし"}


def reached(on: str = "2026-08-20", kind: str = "phone") -> Json:
    """Return a contact that reached the person."""
    return {"kind": kind, "on": on, "reached": True, "note": "本人と話せた"}


def closure(lead: Actor = CENTER, hand_back: Actor | None = CENTER) -> Json:
    """Return a closure record: lead agency, follow-up and the hand-back (R-END-2, R-END-3)."""
    return {
        "lead_agency_id": lead.agency_id,
        "follow_up": {"needed": True, "method": "四半期ごとの訪問"},
        "evaluation": "目標を達成し、支援の見通しが立った",
        "hand_back": (
            {"agency_id": hand_back.agency_id, "agency_kind": str(hand_back.role)}
            if hand_back
            else None
        ),
    }


def closed(case: SupportCase) -> SupportCase:
    """Close at meeting C with the 地域包括支援センター as lead agency."""
    in_support(case)
    version = case.current_plan["version"]
    case.close_case(COORDINATOR, meeting_for(case, Timing.closure, version), closure())
    assert case.state == "closed"
    return case


def suspended(case: SupportCase) -> SupportCase:
    """Contact lost after attempts, suspension decided at meeting D."""
    in_support(case, ("participation",))
    case.record_contact_attempt(COORDINATOR, unreached("2026-08-01", "phone"))
    case.record_contact_attempt(
        COORDINATOR, unreached("2026-08-05", "information_from_surroundings")
    )
    case.record_contact_attempt(COORDINATOR, unreached("2026-08-09", "home_visit"))
    version = case.current_plan["version"]
    case.suspend_case(
        COORDINATOR, meeting_for(case, Timing.suspension, version), "連絡が完全に途絶"
    )
    assert case.state == "suspended"
    return case


def domain_state(aggregate: Any) -> dict[str, Any]:
    """Return an aggregate's id, version and domain attributes (not the library's bookkeeping)."""
    state = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    return {"id": aggregate.id, "version": aggregate.version, **copy.deepcopy(state)}


def in_memory_app() -> Application:
    """An eventsourcing application with in-memory persistence, whatever the environment says."""
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def event_names(case: SupportCase) -> list[str]:
    """Return the class names of the case's pending (not yet saved) events."""
    return [type(e).__name__ for e in case.collect_events()]


# --- asserting refusals --------------------------------------------------------------------

ALLOWED = {
    "referred": {
        "record_explanation",
        "give_consent",
        "withdraw_consent",
        "start_assessment",
        "refer_to_council",
        "return_to_referrer",
    },
    "council_track": {
        "record_explanation",
        "give_consent",
        "withdraw_consent",
        "record_early_start",
        "start_assessment",
        "return_to_referrer",
    },
    "assessment": {
        "give_consent",
        "withdraw_consent",
        "record_early_start",
        "record_contact_attempt",
        "complete_assessment",
        "return_to_referrer",
    },
    "planning": {
        "give_consent",
        "withdraw_consent",
        "record_early_start",
        "record_contact_attempt",
        "draft_plan",
        "approve_plan",
    },
    "awaiting_decision": {
        "give_consent",
        "withdraw_consent",
        "record_contact_attempt",
        "decide_support",
    },
    "in_support": {
        "give_consent",
        "withdraw_consent",
        "record_monitoring",
        "record_contact_attempt",
        "start_replan",
        "close_case",
        "suspend_case",
    },
    "replanning": {
        "give_consent",
        "withdraw_consent",
        "complete_assessment",
        "record_early_start",
        "record_monitoring",
        "record_contact_attempt",
        "draft_plan",
        "approve_replan",
        "suspend_case",
    },
    "closed": {"give_consent", "withdraw_consent", "resume_case"},
    "suspended": {"give_consent", "withdraw_consent", "record_contact_attempt", "resume_case"},
    "returned_to_referrer": set(),
}
"""The commands each state allows, written out by hand from the rulebook's lifecycle."""


@contextmanager
def refused(
    error: type[DomainError],
    code: str,
    *,
    rules: Iterable[str] = (),
    case: SupportCase | None = None,
) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect `error` with `code` (and these rule IDs); the case, if given, is left untouched."""
    before = (case.version, case.state, len(case.pending_events)) if case is not None else None
    with pytest.raises(error) as exc:
        yield exc
    assert exc.value.code == code, exc.value.message
    assert set(rules) <= set(exc.value.rules), exc.value.rules
    if case is not None:
        assert (case.version, case.state, len(case.pending_events)) == before


@contextmanager
def not_allowed(case: SupportCase) -> Iterator[pytest.ExceptionInfo[DomainError]]:
    """Expect CommandNotAllowed listing the commands of the case's current state."""
    state = case.state
    with refused(CommandNotAllowed, "command_not_allowed", case=case) as exc:
        yield exc
    assert set(exc.value.allowed_commands) == ALLOWED[state]


# --- a revised workflow definition (test only) ----------------------------------------------

REVISED_VERSION = 2


def revised_workflow_document() -> Json:
    """A test-only version 2 of the support-case workflow: `in_support` renamed `supporting`.

    It stands for a revision of the notice that renames a state; the product's definition is
    not touched (the tests write it to a temporary `workflows/versions` directory).
    """
    document: Json = copy.deepcopy(support_case_workflow().document)
    document["version"] = REVISED_VERSION
    states: Json = {}
    for state_id, spec in document["states"].items():
        for transition in spec.get("transitions", []):
            if transition["target"] == "in_support":
                transition["target"] = "supporting"
        if state_id == "in_support":
            spec["label"] = "支援実施中（改定後）"
            state_id = "supporting"
        states[state_id] = spec
    document["states"] = states
    return document


def isolated_workflow_registry(monkeypatch: pytest.MonkeyPatch, versions_dir: Any) -> None:
    """Give the test its own registry of workflow versions and its own `workflows/versions`.

    Versions a test registers (or loads from `versions_dir`) vanish with it, so two tests may
    each define their own version 2.
    """
    from service.domain import workflow as workflow_module

    support_case_workflow()
    in_force = {
        key: known
        for key, known in workflow_module._REGISTRY.items()
        if (workflow_module.WORKFLOWS_DIR / f"{key[0]}.yaml").is_file()
        and known is workflow_module.load_workflow(key[0])
    }
    monkeypatch.setattr(workflow_module, "_REGISTRY", in_force)
    monkeypatch.setattr(workflow_module, "VERSIONS_DIR", versions_dir)


def write_revised_workflow(versions_dir: Any) -> Any:
    """Write the revised definition as `<versions_dir>/support_case/v2.yaml`; return the path."""
    import yaml

    path = versions_dir / "support_case" / f"v{REVISED_VERSION}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(revised_workflow_document(), allow_unicode=True), "utf-8")
    return path
