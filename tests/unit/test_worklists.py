"""What a case has due (R-SUP-1, R-SUP-2, R-SUS-2, R-END-2) and the clock that says when."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest

from service.application.worklists import worklist_entry
from service.clock import JST, ManualClock, SystemClock
from service.domain.case import SupportCase
from service.domain.values import Timing
from service.projections.worklists import (
    FOLLOW_UP,
    MONITORING,
    NO_CONTACT,
    PLAN_MEETING,
    SUPPORT_DECISION,
    WorklistItem,
    case_items,
    next_monitoring_date,
)
from tests.unit import support
from tests.unit.support import CITY, COORDINATOR, reached, unreached


def kinds(case: SupportCase) -> dict[str, list[WorklistItem]]:
    """Group a case's items by kind."""
    grouped: dict[str, list[WorklistItem]] = {}
    for item in case_items(case):
        grouped.setdefault(item.kind, []).append(item)
    return grouped


def monitoring(on: str, contact_made: bool = True) -> dict[str, object]:
    """Return a monitoring record."""
    return {"on": on, "summary": "各機関から状況を確認", "contact_made": contact_made}


def listed(item: WorklistItem, today: date, no_contact_days: int = 30) -> dict[str, object]:
    """Return the item as the worklist lists it on `today`."""
    return worklist_entry(asdict(item), today, no_contact_days)


# --- the clock --------------------------------------------------------------------------------


def test_manual_clock_stands_still_until_moved() -> None:
    """Tests control time: the clock answers the day it was set to, then the day it moved to."""
    clock = ManualClock(date(2026, 7, 10))
    assert clock.today() == date(2026, 7, 10)
    assert clock.now().tzinfo is not None
    clock.advance(days=1)
    assert clock.today() == date(2026, 7, 11)
    clock.set(datetime(2026, 8, 1, 0, 30, tzinfo=JST))
    assert clock.today() == date(2026, 8, 1)


def test_the_day_turns_over_at_midnight_in_japan() -> None:
    """15:30 UTC is already the next calendar day in Japan, where the programme's dates live."""
    clock = ManualClock(datetime(2026, 7, 9, 15, 30, tzinfo=UTC))
    assert clock.today() == date(2026, 7, 10)


def test_manual_clock_refuses_a_naive_time() -> None:
    """A naive time would be read in the machine's zone: refused."""
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 7, 10, 9, 0))


def test_system_clock_is_timezone_aware() -> None:
    """The real clock's `now` is aware and `today` is a date."""
    clock = SystemClock()
    assert clock.now().tzinfo is not None
    assert isinstance(clock.today(), date)


# --- monitoring (R-SUP-1, R-SUP-2) -------------------------------------------------------------


def test_R_SUP_1_monitoring_dates_come_from_the_plan_in_effect(yamada: SupportCase) -> None:
    """R-SUP-1: the first monitoring date of the plan in effect is due; nothing before support."""
    support.in_planning(yamada)
    version = yamada.draft_plan(COORDINATOR, support.plan())
    assert MONITORING not in kinds(yamada)
    yamada.approve_plan(COORDINATOR, support.meeting_for(yamada, Timing.plan, version))
    (item,) = kinds(yamada)[MONITORING]
    assert item.due_on == date(2026, 7, 10)
    assert item.case_id == str(yamada.id)
    assert item.role == "coordinator"
    assert "プラン第1版" in item.label


def test_R_SUP_2_a_passed_monitoring_date_without_a_record_is_overdue(yamada: SupportCase) -> None:
    """R-SUP-2: on the date it is due, not late; the day after, one day overdue."""
    support.in_support(yamada)
    (item,) = kinds(yamada)[MONITORING]
    on_the_day = listed(item, date(2026, 7, 10))
    assert (on_the_day["overdue"], on_the_day["days_overdue"]) == (False, 0)
    later = listed(item, date(2026, 7, 25))
    assert (later["overdue"], later["days_overdue"]) == (True, 15)


def test_R_SUP_2_a_record_on_or_after_the_date_meets_it(yamada: SupportCase) -> None:
    """R-SUP-2: a record dated before a monitoring date does not meet it; one on/after does."""
    support.in_support(yamada)
    yamada.record_monitoring(COORDINATOR, monitoring("2026-07-01"))
    assert next_monitoring_date(yamada) == date(2026, 7, 10)
    yamada.record_monitoring(COORDINATOR, monitoring("2026-07-10", contact_made=False))
    assert next_monitoring_date(yamada) == date(2026, 8, 10)
    yamada.record_monitoring(COORDINATOR, monitoring("2026-08-15"))
    assert next_monitoring_date(yamada) is None
    assert MONITORING not in kinds(yamada)


def test_R_SUP_2_a_late_record_catches_up_every_earlier_date(yamada: SupportCase) -> None:
    """R-SUP-2: one record after two passed dates meets both: the case is no longer overdue."""
    support.in_support(yamada)
    yamada.record_monitoring(COORDINATOR, monitoring("2026-09-01"))
    assert next_monitoring_date(yamada) is None


def test_R_PLN_3_a_new_plan_brings_its_own_monitoring_dates(yamada: SupportCase) -> None:
    """R-PLN-3, R-SUP-1: after a re-plan, the dates of the new plan in effect are due."""
    support.in_replanning(yamada)
    assert kinds(yamada)[MONITORING][0].due_on == date(2026, 7, 10)  # plan 1 still in effect
    version = yamada.draft_plan(COORDINATOR, support.plan(monitoring_dates=("2026-10-01",)))
    yamada.approve_replan(COORDINATOR, support.meeting_for(yamada, Timing.replan, version))
    (item,) = kinds(yamada)[MONITORING]
    assert item.due_on == date(2026, 10, 1)
    assert "プラン第2版" in item.label


def test_monitoring_is_assigned_to_the_coordinators_of_the_plan(yamada: SupportCase) -> None:
    """R-SUP-1: a plan naming coordinator agencies gives each of them the item."""
    support.in_planning(yamada)
    plan = support.plan(roles=(support.CENTER, COORDINATOR))
    version = yamada.draft_plan(COORDINATOR, plan)
    yamada.approve_plan(COORDINATOR, support.meeting_for(yamada, Timing.plan, version))
    assert [i.agency_id for i in kinds(yamada)[MONITORING]] == [COORDINATOR.agency_id]


# --- contact (R-SUS-2) ------------------------------------------------------------------------


def test_R_SUS_2_no_contact_counts_from_the_last_recorded_contact(suzuki: SupportCase) -> None:
    """R-SUS-2: unreached attempts do not count; a reached one or monitoring with contact does."""
    support.in_support(suzuki)
    (item,) = kinds(suzuki)[NO_CONTACT]
    assert item.due_on == date(2026, 4, 1)  # the person applied in person; nothing since
    suzuki.record_contact_attempt(COORDINATOR, unreached("2026-08-01"))
    assert kinds(suzuki)[NO_CONTACT][0].due_on == date(2026, 4, 1)
    suzuki.record_contact_attempt(COORDINATOR, reached("2026-08-20"))
    assert kinds(suzuki)[NO_CONTACT][0].due_on == date(2026, 8, 20)
    suzuki.record_monitoring(COORDINATOR, monitoring("2026-09-02"))
    assert kinds(suzuki)[NO_CONTACT][0].due_on == date(2026, 9, 2)


def test_R_SUS_2_a_case_is_a_suspension_candidate_after_n_days(suzuki: SupportCase) -> None:
    """R-SUS-2: due N days after the last contact; N is chosen when the list is read."""
    support.in_support(suzuki)
    suzuki.record_contact_attempt(COORDINATOR, reached("2026-08-20"))
    (item,) = kinds(suzuki)[NO_CONTACT]
    assert listed(item, date(2026, 9, 19), 30)["overdue"] is False
    entry = listed(item, date(2026, 9, 25), 30)
    assert (entry["due_on"], entry["days_overdue"]) == ("2026-09-19", 6)
    assert listed(item, date(2026, 9, 25), 60)["overdue"] is False


def test_R_SUS_2_a_suspended_case_is_no_longer_a_candidate(suzuki: SupportCase) -> None:
    """R-SUS-1: once suspended, the case leaves the monitoring and contact worklists."""
    support.suspended(suzuki)
    assert case_items(suzuki) == []


# --- plans awaiting a meeting or a decision ---------------------------------------------------


def test_a_draft_plan_awaits_its_meeting(sato: SupportCase) -> None:
    """R-PLN-2: a drafted plan is due at a layered support meeting."""
    support.in_planning(sato)
    assert PLAN_MEETING not in kinds(sato)
    sato.draft_plan(COORDINATOR, support.plan())
    (item,) = kinds(sato)[PLAN_MEETING]
    assert "プラン第1版案" in item.label


def test_R_DEC_1_an_approved_plan_awaits_the_municipality(sato: SupportCase) -> None:
    """R-DEC-1: the municipality (as a role) has the decision due; it leaves after deciding."""
    support.awaiting_decision(sato)
    (item,) = kinds(sato)[SUPPORT_DECISION]
    assert (item.agency_id, item.role) == (None, "municipality")
    assert PLAN_MEETING not in kinds(sato)
    sato.decide_support(CITY, granted=True, reason="", decided_on="2026-06-12")
    assert SUPPORT_DECISION not in kinds(sato)


def test_R_PLN_2_a_draft_is_due_from_the_day_it_was_drafted_whatever_follows(
    sato: SupportCase,
) -> None:
    """R-PLN-2: later changes to the case (a contact attempt) do not move the due date."""
    support.in_planning(sato)
    sato.draft_plan(COORDINATOR, {**support.plan(), "drafted_on": "2026-05-01"})
    sato.record_contact_attempt(
        COORDINATOR, {"on": "2026-05-20", "method": "電話", "reached": True}
    )
    (item,) = kinds(sato)[PLAN_MEETING]
    assert item.due_on == dt.date(2026, 5, 1)


def test_R_DEC_1_a_decision_is_due_from_the_meeting_that_approved_the_plan(
    sato: SupportCase,
) -> None:
    """R-DEC-1: the decision is due from meeting A's date (the approval records it)."""
    support.awaiting_decision(sato)
    assert sato.pending_plan is not None
    assert sato.pending_plan["approved_on"] == "2026-06-10"
    (item,) = kinds(sato)[SUPPORT_DECISION]
    assert item.due_on == dt.date(2026, 6, 10)


# --- after closure (R-END-2) --------------------------------------------------------------------


def test_R_END_2_follow_up_is_due_for_the_lead_agency(yamada: SupportCase) -> None:
    """R-END-2: a closure needing follow-up puts it on the lead agency's list on its date."""
    support.in_support(yamada)
    version = yamada.current_plan["version"]
    closure = support.closure()
    closure["follow_up"] = {**closure["follow_up"], "due_on": "2026-12-01"}
    yamada.close_case(COORDINATOR, support.meeting_for(yamada, Timing.closure, version), closure)
    (item,) = case_items(yamada)
    assert (item.kind, item.due_on, item.agency_id) == (
        FOLLOW_UP,
        date(2026, 12, 1),
        support.CENTER.agency_id,
    )


def test_R_END_2_follow_up_without_a_date_is_due_at_once(yamada: SupportCase) -> None:
    """R-END-2: needed but undated follow-up is due from the closure, labelled as undated."""
    support.closed(yamada)
    (item,) = case_items(yamada)
    assert item.kind == FOLLOW_UP
    assert item.due_on == yamada.modified_on.astimezone(JST).date()
    assert "予定日未設定" in item.label


def test_no_follow_up_item_when_none_is_needed(yamada: SupportCase) -> None:
    """R-END-2: a closure without follow-up leaves nothing due."""
    support.in_support(yamada)
    version = yamada.current_plan["version"]
    closure = {**support.closure(), "follow_up": {"needed": False}}
    yamada.close_case(COORDINATOR, support.meeting_for(yamada, Timing.closure, version), closure)
    assert case_items(yamada) == []


def test_items_carry_no_personal_data(yamada: SupportCase) -> None:
    """Worklist labels say what is due, never who the person is."""
    support.awaiting_decision(yamada)
    texts = " ".join(i.label for i in case_items(yamada))
    assert yamada.person["name"] not in texts
    assert "山田" not in texts
