"""Worklists over HTTP, with the clock moved forward by the test (R-SUP-1, R-SUP-2, R-SUS-2)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from service.application.kasane import Kasane
from service.clock import ManualClock
from service.main import create_app
from service.persistence.tables import READ_MODEL_TABLES, worklist_items
from service.settings import Settings
from tests.e2e.conftest import OTHER_COORDINATOR
from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    SATO,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    Json,
    as_,
    case_in_planning,
    case_in_support,
    draft_plan,
    hold_meeting,
    item,
    layered_meeting,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
)

ROLES = [
    (COORDINATOR_AGENCY, "coordinator", "全体調整"),
    (CENTER_AGENCY, "community_general_support_center", "見守り"),
]


@pytest.fixture
def clock() -> ManualClock:
    """The application's clock, set by each test: 2026-05-20 to begin with."""
    return ManualClock(date(2026, 5, 20))


@pytest.fixture
def client(settings: Settings, clock: ManualClock) -> Iterator[TestClient]:
    """A client of an app that reads the day from the test's clock."""
    with TestClient(create_app(settings, clock=clock)) as made:
        yield made


def worklist(client: TestClient, key: str, path: str = "/worklists/mine", **query: Any) -> Json:
    """GET a worklist."""
    return ok(client.get(path, params=query, headers=as_(key)))


def of_case(page: Json, case_id: str, kind: str | None = None) -> list[Json]:
    """The items of one case (and kind) on a worklist page."""
    return [i for i in page["items"] if i["case_id"] == case_id and kind in (None, i["kind"])]


def monitor(client: TestClient, case_id: str, on: str, contact_made: bool = True) -> None:
    """Record monitoring of the plan (R-SUP-1)."""
    body = {"on": on, "summary": "各機関から状況を確認", "contact_made": contact_made}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/monitoring", body))


def test_R_SUP_2_a_passed_monitoring_date_makes_the_case_overdue(
    client: TestClient, clock: ManualClock
) -> None:
    """R-SUP-2: as the clock passes 2026-06-01 without a record, the item turns overdue; a
    monitoring record dated on/after it moves the case to the next date of the plan."""
    case_id = case_in_support(client, SUZUKI)
    (due,) = of_case(worklist(client, COORDINATOR, kind="monitoring"), case_id)
    assert (due["due_on"], due["overdue"], due["days_overdue"]) == ("2026-06-01", False, 0)
    assert due["agency_id"] == COORDINATOR_AGENCY
    assert due["kind_label"] == "モニタリング"

    clock.set(date(2026, 6, 5))
    page = worklist(client, COORDINATOR, kind="monitoring", overdue_only="true")
    (late,) = of_case(page, case_id)
    assert (late["overdue"], late["days_overdue"]) == (True, 4)
    assert page["as_of"] == "2026-06-05"

    monitor(client, case_id, "2026-06-04")
    (nxt,) = of_case(worklist(client, COORDINATOR, kind="monitoring"), case_id)
    assert (nxt["due_on"], nxt["overdue"]) == ("2026-07-01", False)
    assert of_case(worklist(client, COORDINATOR, overdue_only="true"), case_id, "monitoring") == []


def test_R_SUP_2_overdue_first_then_by_due_date(client: TestClient, clock: ManualClock) -> None:
    """R-SUP-2: the municipality's list puts every overdue item first, oldest due first."""
    early = case_in_support(client, SUZUKI)
    late = case_in_support(client, TAKAHASHI)
    monitor(client, late, "2026-06-01")  # the second case is on its 2026-07-01 date
    waiting = case_in_planning(client, SATO)
    draft_plan(client, waiting, plan_body(ROLES))
    clock.set(date(2026, 6, 10))
    page = worklist(client, CITY, "/worklists")
    dues = [(i["overdue"], i["due_on"]) for i in page["items"]]
    assert dues == sorted(dues, key=lambda d: (not d[0], d[1]))
    assert page["items"][0]["overdue"] is True
    kinds = {(i["case_id"], i["kind"]) for i in page["items"]}
    assert {(early, "monitoring"), (late, "monitoring"), (waiting, "plan_meeting")} <= kinds
    assert page["total"] == len(page["items"])
    (one,) = worklist(client, CITY, "/worklists", limit=1, offset=1)["items"]
    assert one == page["items"][1]


def test_R_SUS_2_cases_without_contact_for_n_days_are_suspension_candidates(
    client: TestClient, clock: ManualClock
) -> None:
    """R-SUS-2: counted from the last contact (the person's consent on 2026-04-03 here), due after
    KASANE_NO_CONTACT_DAYS (30) or the number asked for; a reached attempt resets it."""
    case_id = case_in_support(client, SUZUKI)
    clock.set(date(2026, 5, 10))
    (item_,) = of_case(worklist(client, COORDINATOR, kind="no_contact"), case_id)
    assert (item_["due_on"], item_["days_overdue"]) == ("2026-05-03", 7)
    assert "2026-04-03" in item_["label"]
    (longer,) = of_case(
        worklist(client, COORDINATOR, kind="no_contact", no_contact_days=60), case_id
    )
    assert (longer["due_on"], longer["overdue"]) == ("2026-06-02", False)

    body = {"kind": "home_visit", "on": "2026-05-09", "reached": False}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/contact-attempts", body))
    assert of_case(worklist(client, COORDINATOR, kind="no_contact"), case_id)[0]["overdue"]
    body = {"kind": "phone", "on": "2026-05-09", "reached": True}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/contact-attempts", body))
    (after,) = of_case(worklist(client, COORDINATOR, kind="no_contact"), case_id)
    assert (after["due_on"], after["overdue"]) == ("2026-06-08", False)


def test_R_DEC_1_a_plan_awaiting_the_decision_is_on_the_municipality_list(
    client: TestClient,
) -> None:
    """R-DEC-1: after meeting A approves a plan with outreach, the municipality has it due."""
    case_id = case_in_planning(client, YAMADA)
    draft_plan(client, case_id, plan_body(ROLES, ["outreach"]))
    (waiting,) = of_case(worklist(client, COORDINATOR, kind="plan_meeting"), case_id)
    assert waiting["label"] == "プラン第1版案の重層的支援会議待ち"
    meeting_id = layered_meeting(client, case_id, "plan", 1)
    body = {"meeting_id": meeting_id}
    assert ok(post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", body))["state"] == (
        "awaiting_decision"
    )
    (due,) = of_case(worklist(client, CITY), case_id)
    assert (due["kind"], due["role"], due["agency_id"]) == (
        "support_decision",
        "municipality",
        None,
    )
    assert of_case(worklist(client, COORDINATOR), case_id) == []


def test_R_END_2_follow_up_after_closure_is_due_for_the_lead_agency(
    client: TestClient, clock: ManualClock
) -> None:
    """R-END-2: a closure with follow-up and its date lists it for the lead agency."""
    case_id = case_in_support(client, SUZUKI)
    meeting_id = hold_meeting(client, meeting_body([item(case_id, "closure", 1)]))
    closure = {
        "meeting_id": meeting_id,
        "lead_agency_id": CENTER_AGENCY,
        "follow_up": {"needed": True, "method": "四半期ごとの訪問", "due_on": "2026-09-01"},
    }
    ok(post(client, COORDINATOR, f"/cases/{case_id}/closure", closure))
    detail = ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)))
    assert detail["closure"]["follow_up"]["due_on"] == "2026-09-01"
    (due,) = of_case(worklist(client, CENTER), case_id)
    assert (due["kind"], due["due_on"], due["overdue"]) == ("follow_up", "2026-09-01", False)
    clock.advance(days=120)
    assert of_case(worklist(client, CENTER, overdue_only="true"), case_id)[0]["days_overdue"] > 0
    assert of_case(worklist(client, COORDINATOR), case_id) == []


def test_as_of_plans_ahead_without_moving_the_clock(client: TestClient) -> None:
    """R-SUP-1: `as_of` asks what will be overdue on a later day."""
    case_id = case_in_support(client, SUZUKI)
    page = worklist(client, COORDINATOR, kind="monitoring", as_of="2026-06-11")
    assert page["as_of"] == "2026-06-11"
    assert of_case(page, case_id)[0]["days_overdue"] == 10
    assert worklist(client, COORDINATOR, kind="monitoring")["as_of"] == "2026-05-20"


def test_worklists_are_per_tenant_and_per_role(
    client: TestClient, other_town_client: TestClient
) -> None:
    """Another municipality sees none of these items; roles without the row are refused."""
    case_in_support(client, SUZUKI)
    assert worklist(client, CITY, "/worklists")["total"] > 0
    assert worklist(client, AUDITOR, "/worklists")["total"] > 0
    assert worklist(other_town_client, OTHER_COORDINATOR, "/worklists")["total"] == 0
    problem(client.get("/worklists", headers=as_(CENTER)), 403, "role_not_permitted")
    assert worklist(client, CENTER)["items"] == []  # nothing of its own is due yet
    problem(
        client.get("/worklists", params={"limit": 0}, headers=as_(CITY)), 422, "validation_failed"
    )


def test_worklist_items_carry_no_personal_data(client: TestClient, clock: ManualClock) -> None:
    """No name, household or narrative in any worklist item."""
    case_id = case_in_support(client, SUZUKI)
    clock.advance(days=90)
    text = json.dumps(worklist(client, CITY, "/worklists"), ensure_ascii=False)
    assert case_id in text
    for secret in ("鈴木", "ケン", "児童養護施設"):
        assert secret not in text


def _rows(app: Kasane) -> list[tuple[Any, ...]]:
    with app.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(worklist_items)).all())


def test_rebuilt_worklists_equal_the_live_ones(client: TestClient) -> None:
    """The worklist view is a projection: rebuilt from zero it equals the live one."""
    assert worklist_items in READ_MODEL_TABLES
    supported = case_in_support(client, SUZUKI)
    monitor(client, supported, "2026-06-02")
    waiting = case_in_planning(client, SATO)
    draft_plan(client, waiting, plan_body(ROLES))
    app = client.app
    assert isinstance(app, FastAPI)
    kasane: Kasane = app.state.kasane
    live = _rows(kasane)
    assert {r[3] for r in live} >= {supported, waiting}
    kasane.rebuild_read_models()
    assert _rows(kasane) == live
