"""Social resources: the host register (R-PAR-3) and community issues (R-RES-1, R-MTG-3 C)."""

from __future__ import annotations

from typing import Any

import pytest

from service.domain.case import SupportCase
from service.domain.community_issue import (
    CommunityIssue,
    IssueStatus,
    issue_id,
    issues_from_meeting,
    normalise,
)
from service.domain.errors import RuleViolation
from service.domain.host import Host
from service.domain.meeting import Meeting
from service.domain.values import Timing
from tests.unit import support
from tests.unit.support import CITY, COORDINATOR, MUNICIPALITY_ID, PARTICIPATION, refused

# --- the host register (R-PAR-3) ------------------------------------------------------------


def _farm(**changes: Any) -> Host:
    fields: dict[str, Any] = {
        "name": "みどり農園",
        "kind": "work_experience",
        "capacity": 3,
        "contact": {"organisation": "NPO法人みどり", "phone": "0120-000-000"},
        "fields_of_activity": ["農作業"],
        **changes,
    }
    return Host.register(PARTICIPATION, **fields)


def test_R_PAR_3_host_registered_with_kind_capacity_contact_fields() -> None:
    """R-PAR-3: a host of the municipality's register: kind, capacity, contact, fields."""
    host = _farm(fields_of_activity=[" 農作業 ", "", "食品加工"])
    assert (host.municipality_id, host.name, host.kind, host.capacity) == (
        MUNICIPALITY_ID,
        "みどり農園",
        "work_experience",
        3,
    )
    assert host.fields_of_activity == ["農作業", "食品加工"]
    assert host.status == "active" and host.active
    assert host.registered_by == PARTICIPATION.as_dict()
    assert [type(e).__name__ for e in host.collect_events()] == ["HostRegistered"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"name": "  "}, "host_name_required"),
        ({"kind": "castle"}, "invalid_host_kind"),
        ({"capacity": -1}, "invalid_host_capacity"),
        ({"capacity": True}, "invalid_host_capacity"),
        ({"contact": {"home_address": "x"}}, "invalid_host_contact"),
        ({"fields_of_activity": "農作業"}, "invalid_host_fields_of_activity"),
    ],
)
def test_R_PAR_3_invalid_host_is_refused(changes: dict[str, Any], code: str) -> None:
    """R-PAR-3: a host without a name, with an unknown kind, a negative capacity, a contact
    beyond the organisation's business fields or malformed fields of activity is refused."""
    with refused(RuleViolation, code, rules=["R-PAR-3"]):
        _farm(**changes)


def test_R_PAR_3_host_update_records_only_what_changed() -> None:
    """R-PAR-3: HostUpdated carries the changed fields; an update changing nothing is no event."""
    host = _farm()
    host.collect_events()
    host.update(CITY, {"capacity": 5, "name": "みどり農園"})
    (updated,) = host.collect_events()
    assert type(updated).__name__ == "HostUpdated"
    assert updated.changes == {"capacity": 5}  # type: ignore[attr-defined]
    host.update(CITY, {"capacity": 5})
    assert host.collect_events() == []
    with refused(RuleViolation, "invalid_host_field", rules=["R-PAR-3"]):
        host.update(CITY, {"municipality_id": "elsewhere"})
    with refused(RuleViolation, "invalid_host_kind"):
        host.update(CITY, {"kind": None})


def test_R_PAR_3_retired_host_stays_in_the_register_but_cannot_change() -> None:
    """R-PAR-3: a retired host keeps its history; it is no longer changed or matched."""
    host = _farm()
    with refused(RuleViolation, "host_retirement_reason_required"):
        host.retire(CITY, retired_on="2026-06-30", reason=" ")
    host.retire(CITY, retired_on="2026-06-30", reason="閉園")
    assert (host.status, host.active) == ("retired", False)
    assert host.retirement == {
        "actor": CITY.as_dict(),
        "retired_on": "2026-06-30",
        "reason": "閉園",
    }
    with refused(RuleViolation, "host_retired"):
        host.update(CITY, {"capacity": 1})
    with refused(RuleViolation, "host_retired"):
        host.retire(CITY, retired_on="2026-07-01", reason="again")


# --- community issues (R-RES-1, R-MTG-3 C) ---------------------------------------------------


def _meeting_with(case: SupportCase, shortages: list[str]) -> Meeting:
    return support.hold_meeting(
        [support.item(case, Timing.none, None, "noted")], resource_shortages=shortages
    )


def test_R_RES_1_R_MTG_3_each_distinct_shortage_of_a_meeting_raises_one_issue(
    yamada: SupportCase,
) -> None:
    """R-RES-1, R-MTG-3 C: every distinct shortage recorded at the meeting becomes an issue of
    the municipality, with the meeting and its cases; blanks and repeats are not new issues."""
    meeting = _meeting_with(yamada, ["就労体験の場が不足", "就労体験の場が不足 ", "  ", "移動手段"])
    issues = issues_from_meeting(
        COORDINATOR,
        meeting_id=str(meeting.id),
        held_on=meeting.held_on,
        shortages=meeting.resource_shortages,
        case_ids=meeting.case_ids,
        existing={},
    )
    assert [i.text for i in issues] == ["就労体験の場が不足", "移動手段"]
    work = issues[0]
    assert work.id == issue_id(MUNICIPALITY_ID, "就労体験の場が不足")
    assert (work.municipality_id, work.status, work.raised_on) == (
        MUNICIPALITY_ID,
        "open",
        "2026-06-10",
    )
    assert work.case_ids == [str(yamada.id)]
    assert work.meeting_ids == [str(meeting.id)]
    assert [type(e).__name__ for e in work.collect_events()] == ["CommunityIssueRaised"]


def test_R_RES_1_same_shortage_again_links_to_the_existing_issue(sato: SupportCase) -> None:
    """R-RES-1: the same shortage (after NFKC, case folding and white space) at a later meeting
    links the new meeting and its cases to the existing issue; linking the same meeting twice
    is no event."""
    abc = CommunityIssue.raise_issue(
        COORDINATOR, text="abc作業所の枠", meeting_id="m-0", raised_on="2026-04-01", case_ids=[]
    )
    later = _meeting_with(sato, ["ＡＢＣ作業所の枠　"])  # full-width letters and space
    assert issue_id(MUNICIPALITY_ID, "ＡＢＣ作業所の枠　") == abc.id
    (linked,) = issues_from_meeting(
        COORDINATOR,
        meeting_id=str(later.id),
        held_on=later.held_on,
        shortages=later.resource_shortages,
        case_ids=later.case_ids,
        existing={abc.id: abc},
    )
    assert linked is abc
    assert (abc.case_ids, abc.meeting_ids) == ([str(sato.id)], ["m-0", str(later.id)])
    assert abc.last_raised_on == "2026-06-10"
    assert [type(e).__name__ for e in abc.collect_events()] == [
        "CommunityIssueRaised",
        "CommunityIssueCaseLinked",
    ]
    abc.link(COORDINATOR, meeting_id=str(later.id), raised_on=later.held_on, case_ids=[])
    assert abc.collect_events() == []
    # words that differ after normalisation stay apart
    assert normalise("就労体験の場が 不足") != normalise("就労体験の場が不足")


def test_R_RES_1_status_moves_forward_with_a_note() -> None:
    """R-RES-1: open → in_development → resolved (or closed), each change with a note; a
    settled issue does not move again, and unknown or backward statuses are refused."""
    issue = CommunityIssue.raise_issue(
        CITY, text="夜間の居場所", meeting_id="m-1", raised_on="2026-05-10", case_ids=["c-1"]
    )
    with refused(RuleViolation, "community_issue_note_required", rules=["R-RES-1"]):
        issue.change_status(CITY, status="in_development", note=" ", changed_on="2026-05-20")
    with refused(RuleViolation, "invalid_community_issue_status"):
        issue.change_status(CITY, status="forgotten", note="x", changed_on="2026-05-20")
    with refused(RuleViolation, "community_issue_status_not_allowed"):
        issue.change_status(CITY, status="open", note="x", changed_on="2026-05-20")
    issue.change_status(CITY, status="in_development", note="公民館と協議", changed_on="2026-05-20")
    with refused(RuleViolation, "community_issue_status_not_allowed"):
        issue.change_status(CITY, status="in_development", note="x", changed_on="2026-05-21")
    issue.change_status(CITY, status="resolved", note="夜間開放", changed_on="2026-06-01")
    assert issue.status == IssueStatus.resolved
    assert [h["status"] for h in issue.status_history] == ["in_development", "resolved"]
    with refused(RuleViolation, "community_issue_status_not_allowed"):
        issue.change_status(CITY, status="closed", note="x", changed_on="2026-06-02")


def test_R_RES_1_shortage_raised_again_reopens_a_settled_issue() -> None:
    """R-RES-1: a resolved issue found again at a meeting is open again (the link says so)."""
    issue = CommunityIssue.raise_issue(
        CITY, text="夜間の居場所", meeting_id="m-1", raised_on="2026-05-10", case_ids=["c-1"]
    )
    issue.change_status(CITY, status="closed", note="予算化見送り", changed_on="2026-05-20")
    issue.collect_events()
    issue.link(COORDINATOR, meeting_id="m-2", raised_on="2026-09-01", case_ids=["c-2"])
    (linked,) = issue.collect_events()
    assert linked.reopened is True  # type: ignore[attr-defined]
    assert (issue.status, issue.last_raised_on, issue.case_ids) == (
        "open",
        "2026-09-01",
        ["c-1", "c-2"],
    )


def test_R_RES_1_issue_ids_are_per_municipality() -> None:
    """R-RES-1: the same words in two municipalities are two issues."""
    assert issue_id("asahi-shi", "移動手段") != issue_id("yuhi-machi", "移動手段")
    assert issue_id("asahi-shi", " 移動手段") == issue_id("asahi-shi", "移動手段")


def test_R_RES_1_blank_shortage_is_refused() -> None:
    """R-RES-1: a shortage names what is short."""
    with refused(RuleViolation, "resource_shortage_text_required", rules=["R-RES-1"]):
        CommunityIssue.raise_issue(
            CITY, text="  ", meeting_id="m-1", raised_on="2026-05-10", case_ids=[]
        )


def test_R_RES_1_R_RPT_1_a_meeting_held_before_the_settlement_does_not_reopen() -> None:
    """R-RES-1: a meeting held before the issue was resolved, recorded late, links its cases but
    does not reopen the issue (the settlement dealt with that shortage); the register and the
    state report agree on it (R-RPT-1). A meeting held on or after that day reopens it."""
    from datetime import date

    from service.reports.state_report import from_domain_event, state_report

    issue = CommunityIssue.raise_issue(
        CITY, text="夜間の居場所", meeting_id="m-1", raised_on="2026-05-10", case_ids=["c-1"]
    )
    issue.change_status(CITY, status="resolved", note="夜間開放", changed_on="2026-06-01")
    issue.link(COORDINATOR, meeting_id="m-2", raised_on="2026-05-25", case_ids=["c-2"])
    assert (issue.status, issue.case_ids) == ("resolved", ["c-1", "c-2"])
    events = [from_domain_event(e) for e in issue.collect_events()]
    assert events[-1].data["reopened"] is False
    june = state_report(events, date(2026, 6, 1), date(2026, 6, 30))
    assert june["community_issues_open_at_end"] == 0

    issue.link(COORDINATOR, meeting_id="m-3", raised_on="2026-06-01", case_ids=["c-3"])
    assert issue.status == "open"
    events += [from_domain_event(e) for e in issue.collect_events()]
    june = state_report(events, date(2026, 6, 1), date(2026, 6, 30))
    assert june["community_issues_open_at_end"] == 1


def test_R_RES_1_R_RPT_1_a_status_change_cannot_predate_the_current_status() -> None:
    """R-RES-1: a status change dated before the issue was raised, before the previous change,
    or before the meeting that reopened it is refused: the register and the state report would
    otherwise disagree on the issue's status (R-RPT-1)."""
    issue = CommunityIssue.raise_issue(
        CITY, text="移動手段", meeting_id="m-1", raised_on="2026-05-10", case_ids=["c-1"]
    )
    code = "community_issue_status_date_out_of_order"
    with refused(RuleViolation, code, rules=["R-RES-1", "R-RPT-1"]):
        issue.change_status(CITY, status="resolved", note="x", changed_on="2026-05-09")
    issue.change_status(CITY, status="in_development", note="協議", changed_on="2026-05-10")
    with refused(RuleViolation, code):
        issue.change_status(CITY, status="resolved", note="x", changed_on="2026-05-01")
    issue.change_status(CITY, status="resolved", note="巡回バス", changed_on="2026-06-01")
    issue.link(COORDINATOR, meeting_id="m-2", raised_on="2026-09-01", case_ids=["c-2"])
    assert issue.status == "open"
    with refused(RuleViolation, code):
        issue.change_status(CITY, status="closed", note="x", changed_on="2026-08-31")
    issue.change_status(CITY, status="closed", note="見送り", changed_on="2026-09-01")
