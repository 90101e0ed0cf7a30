"""The state report (R-RPT-1) as a pure function over events: dating rule, periods, "at end"."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from service.reports.state_report import (
    FIGURES,
    JST,
    ReportEvent,
    as_csv,
    as_document,
    business_date,
    empty_figures,
    from_domain_event,
    state_report,
)

RECORDED = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # typed in long after the facts
APRIL = (date(2026, 4, 1), date(2026, 4, 30))


def ev(kind: str, stream: str, data: dict[str, Any], at: datetime = RECORDED) -> ReportEvent:
    """Return one event as the report reads it."""
    return ReportEvent(kind, stream, at, data)


def referred(stream: str, on: str, kind: str | None, route: str = "referral") -> ReportEvent:
    referral = {"route": route, "referrer_kind": kind, "received_on": on}
    return ev("CaseReferred", stream, {"referral": referral, "state": "referred"})


def meeting(stream: str, on: str, kind: str, *timings: str) -> ReportEvent:
    agenda = [{"case_id": f"c{i}", "timing": t} for i, t in enumerate(timings)]
    return ev("MeetingRecorded", stream, {"kind": kind, "held_on": on, "agenda": agenda})


def changed(figures: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in figures.items() if v}


def test_R_RPT_1_dating_rule_business_date_first_then_meeting_then_timestamp() -> None:
    """R-RPT-1: an event counts on the business date it carries; a plan approval, closure or
    suspension on the day of its meeting; anything else on its timestamp's day in Japan."""
    meetings = {"m-1": date(2026, 4, 15)}
    assert business_date(referred("c", "2026-04-02", None), meetings) == date(2026, 4, 2)
    consent = ev("ConsentGiven", "c", {"consent": {"given_on": "2026-04-03"}})
    assert business_date(consent, meetings) == date(2026, 4, 3)
    approved = ev("PlanApproved", "c", {"meeting_id": "m-1", "timing": "plan"})
    assert business_date(approved, meetings) == date(2026, 4, 15)
    unknown_meeting = ev("CaseClosed", "c", {"meeting_id": "m-9", "closure": {}})
    assert business_date(unknown_meeting, meetings) == date(2026, 11, 28)
    # 2026-03-31 23:30 in UTC is already 1 April in Japan
    late = ev("AssessmentCompleted", "c", {}, datetime(2026, 3, 31, 15, 30, tzinfo=UTC))
    assert business_date(late, meetings) == date(2026, 4, 1)
    # an engagement event: the first date key in its data, or one level down
    started = ev(
        "EngagementStarted", "e", {"service": "outreach", "start": {"started_on": "2026-04-09"}}
    )
    assert business_date(started, meetings) == date(2026, 4, 9)
    resumed = ev("EngagementResumed", "e", {"resumption": {"resumed_on": "2026-04-29"}})
    assert business_date(resumed, meetings) == date(2026, 4, 29)
    closed = ev("EngagementClosed", "e", {"meeting_id": "m-1", "closure": {}})
    assert business_date(closed, meetings) == date(2026, 4, 15)
    # a string that is not a date is skipped
    other = ev("SomethingRecorded", "x", {"on": "not a date", "detail": {"on": "2026-04-30"}})
    assert business_date(other, meetings) == date(2026, 4, 30)


def test_R_RPT_1_period_is_inclusive_at_both_ends() -> None:
    """R-RPT-1: [from, to] includes the first and the last day."""
    events = [
        referred("a", "2026-03-31", "child_user_support"),
        referred("b", "2026-04-01", "child_user_support"),
        referred("c", "2026-04-30", "disability_consultation"),
        referred("d", "2026-05-01", "child_user_support"),
    ]
    figures = state_report(events, *APRIL)
    assert figures["referrals"] == 2
    assert figures["referrals.child_user_support"] == 1
    assert figures["referrals.disability_consultation"] == 1


def test_R_RPT_1_referrals_by_referrer_kind() -> None:
    """R-RPT-1: referrals are counted by the kind of referrer; a direct consultation is its own
    kind; any other referrer (e.g. the coordinator itself) is `other`."""
    events = [
        referred("a", "2026-04-02", "community_general_support_center"),
        referred("b", "2026-04-02", "community_general_support_center"),
        referred("c", "2026-04-02", None, route="direct_consultation"),
        referred("d", "2026-04-02", "coordinator"),
        referred("e", "2026-04-02", "community_building_provider"),
    ]
    assert changed(state_report(events, *APRIL)) == {
        "referrals": 5,
        "referrals.community_general_support_center": 2,
        "referrals.direct_consultation": 1,
        "referrals.other": 1,
        "referrals.community_building_provider": 1,
        "open_cases_at_end": 5,
    }


def test_R_RPT_1_meetings_by_timing_decisions_and_case_events() -> None:
    """R-RPT-1: layered support meetings and their agenda items by timing, other meetings,
    plans and re-plans at their meetings, decisions granted and refused, early starts,
    closures, suspensions and resumptions."""
    events = [
        meeting("m-1", "2026-04-10", "layered_support_meeting", "plan", "plan", "none"),
        meeting("m-2", "2026-04-20", "layered_support_meeting", "replan", "closure", "suspension"),
        meeting("m-3", "2026-04-21", "support_council", "none"),
        meeting("m-4", "2026-04-22", "case_conference", "none"),
        meeting("m-5", "2026-05-02", "layered_support_meeting", "plan"),
        ev("PlanApproved", "a", {"meeting_id": "m-1", "timing": "plan"}),
        ev("PlanApproved", "b", {"meeting_id": "m-2", "timing": "replan"}),
        ev("PlanApproved", "c", {"meeting_id": "m-5", "timing": "plan"}),
        ev("SupportDecided", "a", {"decision": {"granted": True, "decided_on": "2026-04-12"}}),
        ev("SupportDecided", "b", {"decision": {"granted": False, "decided_on": "2026-04-22"}}),
        ev("EarlyStartRecorded", "d", {"start": {"started_on": "2026-04-05"}}),
        ev("CaseClosed", "e", {"meeting_id": "m-2", "closure": {}}),
        ev("CaseSuspended", "f", {"meeting_id": "m-2", "reason": "x"}),
        ev("CaseResumed", "g", {"resumption": {"resumed_on": "2026-04-30"}}),
        ev("ConsentGiven", "a", {"consent": {"given_on": "2026-04-01"}}),
        ev("AssessmentCompleted", "a", {}, datetime(2026, 4, 3, tzinfo=UTC)),
    ]
    assert changed(state_report(events, *APRIL)) == {
        "consents": 1,
        "assessments": 1,
        "plans": 1,
        "replans": 1,
        "layered_support_meetings": 2,
        "layered_support_meeting_items.plan": 2,
        "layered_support_meeting_items.replan": 1,
        "layered_support_meeting_items.closure": 1,
        "layered_support_meeting_items.suspension": 1,
        "support_councils": 1,
        "case_conferences": 1,
        "support_decisions_granted": 1,
        "support_decisions_refused": 1,
        "early_starts": 1,
        "closures": 1,
        "suspensions": 1,
        "resumptions": 1,
        "open_cases_at_end": 1,  # g was resumed (it was not referred in the events given)
    }


def test_R_RPT_1_open_cases_at_period_end_follow_the_dates_not_the_typing_order() -> None:
    """R-RPT-1: a case is open at the end if its latest dated status change on or before the
    end opens it; a closure typed in first but dated after the end does not count."""
    events = [
        meeting("m-late", "2026-05-03", "layered_support_meeting", "closure"),
        meeting("m-early", "2026-04-10", "layered_support_meeting", "closure"),
        referred("open", "2026-03-01", "child_user_support"),
        referred("closed-in-may", "2026-03-01", "child_user_support"),
        ev("CaseClosed", "closed-in-may", {"meeting_id": "m-late"}),
        referred("closed-in-april", "2026-03-01", "child_user_support"),
        ev("CaseClosed", "closed-in-april", {"meeting_id": "m-early"}),
        referred("resumed", "2026-03-01", "child_user_support"),
        ev("CaseSuspended", "resumed", {"meeting_id": "m-early"}),
        ev("CaseResumed", "resumed", {"resumption": {"resumed_on": "2026-04-20"}}),
        referred("returned", "2026-04-02", "disability_consultation"),
        ev("ReturnedToReferrer", "returned", {"consultation": {"consulted_on": "2026-04-03"}}),
        referred("after", "2026-05-02", "child_user_support"),
    ]
    figures = state_report(events, *APRIL)
    assert figures["open_cases_at_end"] == 3  # open, closed-in-may, resumed
    assert figures["closures"] == 1 and figures["suspensions"] == 1
    assert state_report(events, date(2026, 5, 1), date(2026, 5, 31))["open_cases_at_end"] == 3


def test_R_RPT_1_outreach_and_participation_engagements() -> None:
    """R-RPT-1: outreach and participation cases started in the period and open at its end,
    from the engagement events (counted by their type names)."""
    events = [
        meeting("m-d", "2026-04-25", "layered_support_meeting", "suspension"),
        meeting("m-c", "2026-05-10", "layered_support_meeting", "closure"),
        ev("EngagementStarted", "o1", {"service": "outreach", "started_on": "2026-03-20"}),
        ev("EngagementStarted", "o2", {"service": "outreach", "started_on": "2026-04-02"}),
        ev("EngagementSuspended", "o2", {"meeting_id": "m-d", "reason": "x"}),
        ev("EngagementStarted", "p1", {"service": "participation", "started_on": "2026-04-05"}),
        ev("EngagementStarted", "p2", {"service": "participation", "started_on": "2026-04-06"}),
        ev("EngagementClosed", "p2", {"meeting_id": "m-c", "closure": {}}),
        ev("EngagementStarted", "p3", {"service": "participation", "started_on": "2026-03-01"}),
        ev("EngagementSuspended", "p3", {"meeting_id": "m-d", "reason": "x"}),
        ev("EngagementResumed", "p3", {"resumption": {"resumed_on": "2026-04-27"}}),
    ]
    assert changed(state_report(events, *APRIL)) == {
        "layered_support_meetings": 1,
        "layered_support_meeting_items.suspension": 1,
        "outreach_started": 1,
        "outreach_open_at_end": 1,  # o1; o2 suspended at the 4/25 meeting
        "participation_started": 2,
        "participation_open_at_end": 3,  # p2 closes in May; p3 resumed on 4/27
    }


def test_R_RPT_1_hosts_and_community_issues() -> None:
    """R-RPT-1: hosts registered in the period and active at its end; community issues raised
    in the period and not resolved or closed at its end."""
    april = datetime(2026, 4, 8, 3, tzinfo=UTC)
    events = [
        ev("HostRegistered", "h1", {"name": "a"}, datetime(2026, 3, 1, 3, tzinfo=UTC)),
        ev("HostRegistered", "h2", {"name": "b"}, april),
        ev("HostRegistered", "h3", {"name": "c"}, april),
        ev("HostRetired", "h1", {"retired_on": "2026-04-28"}),
        ev("HostRetired", "h3", {"retired_on": "2026-05-01"}),
        ev("CommunityIssueRaised", "i1", {"raised_on": "2026-03-25"}),
        ev("CommunityIssueRaised", "i2", {"raised_on": "2026-04-15"}),
        ev("CommunityIssueRaised", "i3", {"raised_on": "2026-04-15"}),
        ev(
            "CommunityIssueStatusChanged",
            "i2",
            {"status": "in_development", "changed_on": "2026-04-20"},
        ),
        ev("CommunityIssueStatusChanged", "i3", {"status": "resolved", "changed_on": "2026-04-28"}),
        ev("CommunityIssueStatusChanged", "i1", {"status": "closed", "changed_on": "2026-04-01"}),
        ev("CommunityIssueCaseLinked", "i1", {"raised_on": "2026-04-29", "reopened": True}),
        ev("CommunityIssueCaseLinked", "i2", {"raised_on": "2026-04-29", "reopened": False}),
    ]
    assert changed(state_report(events, *APRIL)) == {
        "hosts_registered": 2,
        "hosts_active_at_end": 2,  # h2, h3 (h1 retired 4/28, h3 retires in May)
        "community_issues_raised": 2,
        "community_issues_open_at_end": 2,  # i1 reopened, i2 in development; i3 resolved
    }


def test_R_RPT_1_report_of_a_past_period_ignores_later_events() -> None:
    """R-RPT-1: adding events dated after the period leaves its report unchanged."""
    events = [
        referred("a", "2026-04-02", "child_user_support"),
        meeting("m-1", "2026-04-10", "layered_support_meeting", "plan"),
        ev("PlanApproved", "a", {"meeting_id": "m-1", "timing": "plan"}),
    ]
    before = state_report(events, *APRIL)
    later = [
        meeting("m-2", "2026-05-10", "layered_support_meeting", "closure"),
        ev("CaseClosed", "a", {"meeting_id": "m-2"}),
        referred("b", "2026-05-11", "child_user_support"),
        ev("CommunityIssueRaised", "i", {"raised_on": "2026-05-10"}),
    ]
    assert state_report([*events, *later], *APRIL) == before
    assert before["open_cases_at_end"] == 1


def test_R_RPT_1_nothing_happened_is_all_zeros_in_report_order() -> None:
    """R-RPT-1: every figure is present, zero when nothing happened."""
    figures = state_report([], *APRIL)
    assert figures == empty_figures()
    assert list(figures) == list(FIGURES)


def test_R_RPT_1_csv_has_japanese_headers_and_one_row() -> None:
    """R-RPT-1: the CSV has the Japanese column headers and one row of figures."""
    figures = state_report([referred("a", "2026-04-02", "child_user_support")], *APRIL)
    header, row = list(csv.reader(io.StringIO(as_csv("asahi-shi", *APRIL, figures))))
    assert header[:5] == [
        "市町村",
        "期間開始日",
        "期間終了日",
        "紹介・相談受付件数",
        "紹介・相談受付件数（地域包括支援センター）",
    ]
    assert header[-1] == "地域課題 期末未解決件数"
    assert row[:4] == ["asahi-shi", "2026-04-01", "2026-04-30", "1"]
    assert len(header) == len(row) == len(FIGURES) + 3
    document = as_document("asahi-shi", *APRIL, figures)
    assert document["referrals_by_kind"]["child_user_support"] == 1
    assert document["layered_support_meeting_items"] == {
        "plan": 0,
        "replan": 0,
        "closure": 0,
        "suspension": 0,
    }
    assert document["labels"]["referrals"] == "紹介・相談受付件数"


def test_R_RPT_1_reads_decoded_domain_events() -> None:
    """R-RPT-1: a decoded domain event becomes a ReportEvent with its type name and data."""
    from tests.unit.support import refer_sato

    case = refer_sato()
    (created,) = case.collect_events()
    event = from_domain_event(created)
    assert (event.event_type, event.originator_id) == ("CaseReferred", str(case.id))
    # the unit builders' referral carries no `received_on`: dated by when it was recorded
    day = created.timestamp.astimezone(JST).date()
    assert state_report([event], day, day)["referrals"] == 1


def test_R_RPT_1_a_host_retired_before_it_was_entered_is_not_active_at_end() -> None:
    """R-RPT-1, R-PAR-3: a host entered in the register in June (register taken over from
    paper) with a retirement dated in May is not active at the end of June; it was registered
    in June and is counted so."""
    june = (date(2026, 6, 1), date(2026, 6, 30))
    events = [
        ev("HostRegistered", "h1", {"name": "a"}, datetime(2026, 6, 10, 3, tzinfo=UTC)),
        ev("HostRetired", "h1", {"retired_on": "2026-05-20"}),
        ev("HostRegistered", "h2", {"name": "b"}, datetime(2026, 6, 10, 3, tzinfo=UTC)),
    ]
    assert changed(state_report(events, *june)) == {
        "hosts_registered": 2,
        "hosts_active_at_end": 1,  # h2 only
    }
    # a retirement dated after the period end leaves the host active in the period
    late = [*events[:1], ev("HostRetired", "h1", {"retired_on": "2026-07-01"})]
    assert state_report(late, *june)["hosts_active_at_end"] == 1
