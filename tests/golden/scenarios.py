"""Scenario scripts of the golden histories (issue #7, fault test 4): case work driven through
the Kasane application, one function per history. `python -m tests.golden.record` runs them
with a fixed clock and fixed ids and writes tests/golden/histories/<name>.json.

Add a scenario when an event type is added (test_golden.py fails until one covers it).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

import pytest

from service.application.kasane import Kasane
from service.application.workflow_migration import migrate_cases
from service.domain.values import MeetingKind, Timing
from tests.unit.support import (
    CENTER,
    CITY,
    COORDINATOR,
    MANDATORY,
    OUTREACH,
    PARTICIPATION,
    REVISED_VERSION,
    SELF_RELIANCE,
    application,
    closure,
    isolated_workflow_registry,
    plan,
    reached,
    referral_from,
    sharing_consent,
    unreached,
    write_revised_workflow,
)

Json = dict[str, Any]
Scenario = Callable[[Kasane], None]
SCENARIOS: dict[str, Scenario] = {}
# Edits of a recorded stored form, e.g. to write an event as an older class version did; the
# expectations stay those of the live run, so the replay proves the upcasting.
EDITS: dict[str, Callable[[list[Json]], list[Json]]] = {}
# What a history needs around its recording and every replay (e.g. a workflow version).
ENVIRONMENTS: dict[str, Callable[[], AbstractContextManager[Any]]] = {}


def scenario(fn: Scenario) -> Scenario:
    """Register a scenario under its function name."""
    SCENARIOS[fn.__name__] = fn
    return fn


def environment(name: str) -> AbstractContextManager[Any]:
    """Return what the history `name` is recorded and replayed in."""
    return ENVIRONMENTS.get(name, nullcontext)()


@contextmanager
def revised_workflow() -> Iterator[None]:
    """The test-only version 2 of the support-case workflow (tests/unit/support.py), in a
    registry and a versions directory of its own."""
    with tempfile.TemporaryDirectory() as tmp, pytest.MonkeyPatch.context() as patch:
        isolated_workflow_registry(patch, Path(tmp))
        write_revised_workflow(Path(tmp))
        yield


def _meeting(app: Kasane, case_id: str, timing: Timing, plan_version: int | None, on: str) -> str:
    """Hold a layered support meeting with one agenda item; return its id."""
    meeting = app.record_meeting(
        COORDINATOR,
        MeetingKind.layered_support_meeting,
        [
            {
                "case_id": case_id,
                "timing": str(timing),
                "plan_version": plan_version,
                "outcome": "approved",
            }
        ],
        held_on=on,
        meeting_format="online",
        participants=MANDATORY,
    )
    return str(meeting.id)


@scenario
def outreach_to_closure_and_back(app: Kasane) -> None:
    """The 8050 household: explanation, consents, early outreach, assessment with narratives,
    plan with a decision, monitoring, re-plan, closure and a prompt resumption."""
    c = COORDINATOR
    case_id = app.refer_case(
        CENTER,
        referral_from(CENTER, "未払いの請求書、同居の長男が訪問を拒否（8050）"),
        {"name": "山田ハナ", "age": 82},
        [{"name": "山田タロウ", "age": 53, "relation": "son"}],
    ).case_id
    app.record_explanation(CENTER, case_id, None, kind="explanation", on="2026-03-28", note="説明")
    app.give_consent(c, case_id, None, application(["hokatsu-minami", "outreach-hikari"]))
    app.give_consent(c, case_id, None, sharing_consent("member-1", ["outreach-hikari"]))
    app.start_assessment(c, case_id, None)
    app.record_early_start(
        c, case_id, None, service="outreach", reason="長男が訪問拒否", started_on="2026-04-20"
    )
    app.record_contact_attempt(OUTREACH, case_id, None, unreached("2026-04-25"))
    app.complete_assessment(
        c,
        case_id,
        None,
        {
            "summary": "家計破綻と長期ひきこもり",
            "domains": [{"domain": "家計", "narrative": "請求書の未払いが続く"}],
        },
    )
    app.draft_plan(c, case_id, None, plan(["outreach"], roles=[CENTER, OUTREACH]))
    meeting = _meeting(app, case_id, Timing.plan, 1, "2026-06-10")
    app.approve_plan(c, case_id, None, meeting)
    app.decide_support(CITY, case_id, None, granted=True, reason="", decided_on="2026-06-12")
    app.record_monitoring(
        c, case_id, None, {"on": "2026-07-10", "summary": "手紙に反応", "contact_made": True}
    )
    app.start_replan(c, case_id, None, "タロウが同意")
    app.draft_plan(
        c,
        case_id,
        None,
        plan(["outreach", "participation"], roles=[CENTER, OUTREACH, PARTICIPATION]),
    )
    meeting = _meeting(app, case_id, Timing.replan, 2, "2026-12-10")
    app.approve_plan(c, case_id, None, meeting, replan=True)
    app.decide_support(CITY, case_id, None, granted=True, reason="", decided_on="2027-01-10")
    meeting = _meeting(app, case_id, Timing.closure, 2, "2027-03-10")
    app.close_case(c, case_id, None, meeting, closure())
    app.resume_case(c, case_id, None, reason="再び滞納", resumed_on="2027-04-01")


@scenario
def refusal_suspension_and_withdrawal(app: Kasane) -> None:
    """Lost contact: a refused plan, unanswered attempts, suspension, resumption when contact
    returns, then the application for use withdrawn (back to the council track)."""
    c = COORDINATOR
    case_id = app.refer_case(
        SELF_RELIANCE,
        referral_from(SELF_RELIANCE, "児童養護施設退所後の不安定就労・住居"),
        {"name": "鈴木ケン", "age": 19},
        [],
    ).case_id
    app.give_consent(c, case_id, None, application(["jiritsu-soudan"]))
    app.start_assessment(c, case_id, None)
    app.complete_assessment(c, case_id, None, {"summary": "住居と就労"})
    app.draft_plan(c, case_id, None, plan(["participation"]))
    app.approve_plan(c, case_id, None, _meeting(app, case_id, Timing.plan, 1, "2026-06-10"))
    app.decide_support(
        CITY, case_id, None, granted=False, reason="受け入れ先未定", decided_on="2026-06-12"
    )
    app.draft_plan(c, case_id, None, plan(["participation"], policy="受け入れ先を確保"))
    app.approve_plan(c, case_id, None, _meeting(app, case_id, Timing.plan, 2, "2026-06-24"))
    app.decide_support(CITY, case_id, None, granted=True, reason="", decided_on="2026-07-01")
    app.record_contact_attempt(c, case_id, None, reached("2026-08-20"))
    app.record_contact_attempt(c, case_id, None, unreached("2026-09-01", "phone"))
    app.record_contact_attempt(c, case_id, None, unreached("2026-09-05", "home_visit"))
    meeting = _meeting(app, case_id, Timing.suspension, 2, "2026-10-01")
    app.suspend_case(c, case_id, None, meeting, "連絡途絶")
    app.resume_case(
        c,
        case_id,
        None,
        reason="本人から電話",
        resumed_on="2027-01-05",
        contact_restored_on="2027-01-05",
    )
    app.withdraw_consent(c, case_id, None, consent_id="consent-1", on="2027-01-20", reason="意思")


@scenario
def council_track_and_return(app: Kasane) -> None:
    """No consent yet: the support council's track, consent later, then the case goes back to
    its referrer after consultation."""
    c = COORDINATOR
    case_id = app.refer_case(
        COORDINATOR,
        {
            "route": "direct_consultation",
            "reason": "近隣住民からの相談：ため込み、セルフネグレクトの疑い",
            "referred_on": "2026-05-01",
        },
        {"name": "夫（匿名）", "age": 80},
        [{"name": "妻（匿名）", "age": 78, "relation": "wife"}],
    ).case_id
    app.refer_to_council(c, case_id, None, "本人が接触を拒否")
    app.give_consent(c, case_id, None, application(["hokatsu-minami"], given_on="2026-06-01"))
    app.start_assessment(c, case_id, None)
    app.return_to_referrer(
        c, case_id, None, {"consulted_on": "2026-06-15", "summary": "包括の支援で足りる"}
    )


@scenario
def hosts_and_community_issues(app: Kasane) -> None:
    """The municipality's registers: a host registered, updated and retired (R-PAR-3); a
    resource shortage found by two meetings raises a community issue, links the second case,
    and the municipality works on it (R-RES-1)."""
    host = app.register_host(
        CITY,
        name="こども食堂ひだまり",
        kind="place_to_belong",
        capacity=12,
        contact={"phone": "000-0000-0000"},
        fields_of_activity=["居場所", "食事"],
    )
    app.update_host(CITY, str(host.id), None, {"capacity": 15})
    app.retire_host(CITY, str(host.id), None, retired_on="2026-12-31", reason="活動終了")
    shortage = "ひきこもりの若者の居場所が足りない"
    meeting_ids = []
    for n, on in enumerate(("2026-06-10", "2026-07-08"), start=1):
        case_id = app.refer_case(
            CENTER, referral_from(CENTER, f"社会参加の場がない {n}"), {"name": f"本人{n}"}, []
        ).case_id
        meeting = app.record_meeting(
            CITY,
            MeetingKind.support_council,
            [{"case_id": case_id, "timing": "none", "plan_version": None, "outcome": "noted"}],
            held_on=on,
            meeting_format="in_person",
            participants=MANDATORY,
            resource_shortages=[shortage],
        )
        meeting_ids.append(str(meeting.id))
    issue = app.community_issues_from(CITY, app.load_meeting(CITY, meeting_ids[-1]))[0]
    app.change_community_issue_status(
        CITY,
        str(issue.id),
        None,
        status="in_development",
        note="社会福祉協議会と居場所づくりを検討",
        changed_on="2026-08-01",
    )


def _service_meeting(
    app: Kasane, case_id: str, service: str, timing: Timing, plan_version: int, on: str
) -> str:
    """Hold a layered support meeting deciding on a service's plan; return its id."""
    item = {
        "case_id": case_id,
        "service": service,
        "timing": str(timing),
        "plan_version": plan_version,
        "outcome": "approved",
    }
    meeting = app.record_meeting(
        COORDINATOR,
        MeetingKind.layered_support_meeting,
        [item],
        held_on=on,
        meeting_format="online",
        participants=MANDATORY,
    )
    return str(meeting.id)


def _engagement_plan(provider: str, host: bool) -> Json:
    roles = [
        {"party": "provider", "agency_id": provider, "role": "支援の実施"},
        {"party": "coordinator", "agency_id": COORDINATOR.agency_id, "role": "全体調整"},
    ]
    if host:
        roles.append({"party": "host", "agency_id": None, "role": "就労体験の受け入れ"})
    return {
        "goals": ["本人と定期的に会える関係をつくる"],
        "policy": "月2回の訪問",
        "roles": roles,
        "monitoring_dates": ["2026-07-15"],
    }


@scenario
def outreach_and_participation(app: Kasane) -> None:
    """Outreach started early, planned, closed and resumed (R-OUT-*, R-DEC-3); participation
    decided, matched to a registered host, settled in, paid, suspended when contact was lost,
    resumed, re-planned, closed with a periodic contact (R-PAR-*)."""
    c = COORDINATOR
    case_id = app.refer_case(
        CENTER,
        referral_from(CENTER, "長期のひきこもりと家計"),
        {"name": "山田タロウ", "age": 53},
        [],
    ).case_id
    app.give_consent(c, case_id, None, application(["outreach-hikari", "sanka-nagomi"]))
    app.start_assessment(c, case_id, None)
    app.complete_assessment(c, case_id, None, {"summary": "関係づくりから"})
    # Outreach, early (R-DEC-3).
    app.start_engagement(
        OUTREACH,
        case_id,
        "outreach",
        basis="early_start",
        reason="訪問拒否",
        started_on="2026-04-10",
    )
    activity = {
        "kind": "home_visit",
        "on": "2026-04-12",
        "outcome": "no_response",
        "contact_made": False,
        "notes": None,
        "person_id": "person",
    }
    app.record_outreach_activity(OUTREACH, case_id, None, activity)
    plan_ = _engagement_plan(OUTREACH.agency_id, host=False)
    app.draft_engagement_plan(OUTREACH, case_id, "outreach", None, plan_)
    meeting = _service_meeting(app, case_id, "outreach", Timing.plan, 1, "2026-05-10")
    app.approve_engagement_plan(OUTREACH, case_id, "outreach", None, meeting)
    meeting = _service_meeting(app, case_id, "outreach", Timing.closure, 1, "2026-09-10")
    app.close_engagement(
        OUTREACH, case_id, "outreach", None, meeting, {"evaluation": "関係ができた"}
    )
    app.resume_engagement(
        OUTREACH, case_id, "outreach", None, reason="再び孤立", resumed_on="2026-10-01"
    )
    # Participation, on the municipality's decision (R-PAR-1).
    app.draft_plan(c, case_id, None, plan(["outreach", "participation"], roles=[CENTER, OUTREACH]))
    app.approve_plan(c, case_id, None, _meeting(app, case_id, Timing.plan, 1, "2026-06-10"))
    app.decide_support(CITY, case_id, None, granted=True, reason="", decided_on="2026-06-12")
    p = PARTICIPATION
    app.start_engagement(
        p, case_id, "participation", basis="support_decision", reason="", started_on="2026-06-15"
    )
    app.record_engagement_intake(p, case_id, None, {"on": "2026-06-16", "concerns": ["仕事"]})
    app.assess_engagement(p, case_id, None, {"on": "2026-06-20", "domains": ["就労"]})
    app.draft_engagement_plan(
        p, case_id, "participation", None, _engagement_plan(p.agency_id, True)
    )
    meeting = _service_meeting(app, case_id, "participation", Timing.plan, 1, "2026-06-24")
    app.approve_engagement_plan(p, case_id, "participation", None, meeting)
    host = app.register_host(CITY, name="朝日ファーム", kind="work_experience", capacity=3)
    host_id = str(host.id)
    app.match_host(
        p,
        case_id,
        None,
        {"host_id": host_id, "menu": "農作業の就労体験", "starts_on": "2026-07-01"},
    )
    app.record_settling_in(p, case_id, None, {"on": "2026-07-05", "party": "person", "notes": None})
    follow_up = {
        "on": "2026-07-15",
        "party": "host",
        "contact_made": True,
        "connection_stable": True,
    }
    app.record_follow_up(p, case_id, None, follow_up)
    payment = {
        "host_id": host_id,
        "amount_yen": 12000,
        "period_from": "2026-07-01",
        "period_to": "2026-07-31",
        "purpose": "受け入れに要した実費（7月分）",
        "paid_on": "2026-08-10",
    }
    app.pay_host_cost(p, case_id, None, payment)
    lost = {"on": "2026-08-20", "party": "person", "contact_made": False, "connection_stable": None}
    app.record_follow_up(p, case_id, None, lost)
    meeting = _service_meeting(app, case_id, "participation", Timing.suspension, 1, "2026-09-01")
    app.suspend_engagement(p, case_id, "participation", None, meeting, "連絡が途絶")
    app.resume_engagement(
        p,
        case_id,
        "participation",
        None,
        reason="本人から連絡",
        resumed_on="2026-11-01",
        contact_restored_on="2026-10-30",
    )
    app.draft_engagement_plan(
        p, case_id, "participation", None, _engagement_plan(p.agency_id, True)
    )
    meeting = _service_meeting(app, case_id, "participation", Timing.replan, 2, "2026-11-10")
    app.approve_engagement_plan(p, case_id, "participation", None, meeting, replan=True)
    app.record_follow_up(p, case_id, None, {**follow_up, "on": "2026-11-20"})
    meeting = _service_meeting(app, case_id, "participation", Timing.closure, 2, "2027-01-10")
    closure_ = {"evaluation": "受け入れ先に定着した", "next_contact_due": "2027-03-01"}
    app.close_engagement(p, case_id, "participation", None, meeting, closure_)
    contact = {"on": "2027-03-01", "contact_made": True, "next_contact_due": "2027-06-01"}
    app.record_periodic_contact(p, case_id, None, contact)


@scenario
def workflow_migrated(app: Kasane) -> None:
    """A case in support moves to version 2 of its workflow by an explicit state mapping."""
    c = COORDINATOR
    case_id = app.refer_case(
        CENTER, referral_from(CENTER, "家計と介護"), {"name": "田中ミツ", "age": 77}, []
    ).case_id
    app.give_consent(c, case_id, None, application())
    app.start_assessment(c, case_id, None)
    app.complete_assessment(c, case_id, None, {"summary": "家計"})
    app.draft_plan(c, case_id, None, plan())
    app.approve_plan(c, case_id, None, _meeting(app, case_id, Timing.plan, 1, "2026-06-10"))
    (result,) = migrate_cases(
        app,
        name="support_case",
        to_version=REVISED_VERSION,
        mapping={"in_support": "supporting"},
        reason="通知の改正",
        actor=CITY,
    )
    assert result.outcome == "migrated", result
    app.record_monitoring(
        c, case_id, None, {"on": "2026-07-10", "summary": "改定後の版で継続", "contact_made": True}
    )


ENVIRONMENTS["workflow_migrated"] = revised_workflow


@scenario
def referral_of_class_version_1(app: Kasane) -> None:
    """A referral stored before workflows were versioned (CaseReferred v1: no class version,
    no workflow version) replays like the v2 one it is upcast to."""
    council_track_and_return(app)


def _as_version_1(events: list[Json]) -> list[Json]:
    edited = []
    for e in events:
        if e["topic"].endswith(":SupportCase.CaseReferred"):
            state = {
                k: v
                for k, v in e["state"].items()
                if k not in ("class_version", "workflow_version")
            }
            e = {**e, "state": state}
        edited.append(e)
    return edited


EDITS["referral_of_class_version_1"] = _as_version_1
