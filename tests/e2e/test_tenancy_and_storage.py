"""Tenancy, durability and consistency over HTTP: another municipality sees nothing, a restart
loses nothing, reads follow writes at once, and concurrent commands never fork a history.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.e2e.conftest import OTHER_COORDINATOR
from tests.e2e.support import (
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    SATO,
    SIMPLE_ROLES,
    SUZUKI,
    YAMADA,
    as_,
    assess,
    case,
    case_in_support,
    consent,
    events,
    item,
    layered_meeting,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
    refer,
    start_assessment,
)


def test_R_ORG_1_R_ORG_2_another_municipality_sees_nothing_of_the_case(
    client: TestClient, other_town_client: TestClient
) -> None:
    """R-ORG-1, R-ORG-2: the municipality is the tenant. A case of demo-city is invisible to
    other-town: reads and commands on it answer 404 not_found exactly like a missing case, and
    its lists leave it out.
    """
    case_id = refer(client, YAMADA, CENTER)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    meeting_id = client.post(
        "/meetings",
        json=meeting_body([item(case_id, "none", None, "noted")], kind="case_conference"),
        headers=as_(COORDINATOR),
    ).json()["meeting_id"]
    other = other_town_client

    problem(other.get(f"/cases/{case_id}", headers=as_(OTHER_COORDINATOR)), 404, "not_found")
    problem(other.get(f"/cases/{case_id}/events", headers=as_(OTHER_COORDINATOR)), 404, "not_found")
    problem(
        post(other, OTHER_COORDINATOR, f"/cases/{case_id}/assessment-start", {}), 404, "not_found"
    )
    problem(
        post(
            other,
            OTHER_COORDINATOR,
            f"/cases/{case_id}/consents",
            {
                "person_id": "person",
                "application_for_use": False,
                "agency_ids": ["x"],
                "given_by": "person",
                "given_on": "2026-04-03",
            },
        ),
        404,
        "not_found",
    )
    problem(
        post(
            other,
            OTHER_COORDINATOR,
            f"/cases/{case_id}/contact-attempts",
            {"kind": "phone", "on": "2026-04-10", "reached": False},
        ),
        404,
        "not_found",
    )
    # it cannot put the case on its own meeting's agenda, nor read demo-city's meeting
    problem(
        post(
            other,
            OTHER_COORDINATOR,
            "/meetings",
            meeting_body([item(case_id, "none", None, "noted")], kind="case_conference"),
        ),
        404,
        "not_found",
    )
    problem(other.get(f"/meetings/{meeting_id}", headers=as_(OTHER_COORDINATOR)), 404, "not_found")

    own = refer(other, SATO, OTHER_COORDINATOR)["case_id"]
    listed = ok(other.get("/cases", headers=as_(OTHER_COORDINATOR)))
    assert [c["case_id"] for c in listed["items"]] == [own]
    assert listed["total"] == 1
    assert ok(other.get("/meetings", headers=as_(OTHER_COORDINATOR)))["total"] == 0

    # demo-city: its case untouched, the other town's case not visible
    assert case(client, case_id)["version"] == 2
    assert [c["case_id"] for c in ok(client.get("/cases", headers=as_(CITY)))["items"]] == [case_id]
    problem(client.get(f"/cases/{own}", headers=as_(CITY)), 404, "not_found")


def test_restart_keeps_the_case_and_the_workflow_continues(
    client: TestClient, make_client: Callable[[], TestClient]
) -> None:
    """R-PLN-3: after a restart (a new app on the same database) the case detail, version and
    history are the same, and the workflow continues from where it was.
    """
    case_id = refer(client, SATO)["case_id"]
    consent(client, case_id, [CENTER_AGENCY])
    start_assessment(client, case_id)
    assess(client, case_id)
    ok(post(client, COORDINATOR, f"/cases/{case_id}/plans", plan_body(SIMPLE_ROLES)))
    meeting_id = layered_meeting(client, case_id, "plan", 1)
    before, history = case(client, case_id), events(client, case_id)

    restarted = make_client()
    assert case(restarted, case_id) == before
    assert events(restarted, case_id) == history
    assert before["version"] == 5
    assert [e["type"] for e in history][-1] == "PlanDrafted"
    assert (
        ok(restarted.get(f"/meetings/{meeting_id}", headers=as_(COORDINATOR)))["agenda"][0][
            "case_id"
        ]
        == case_id
    )

    approved = ok(
        post(
            restarted,
            COORDINATOR,
            f"/cases/{case_id}/plan-approval",
            {"meeting_id": meeting_id, "expected_version": 5},
        )
    )
    assert (approved["state"], approved["version"]) == ("in_support", 6)
    again = make_client()
    assert case(again, case_id)["state"] == "in_support"
    assert case(again, case_id)["current_plan"]["version"] == 1
    assert [e["version"] for e in events(again, case_id)] == [1, 2, 3, 4, 5, 6]


def test_read_your_writes_after_every_command(
    client: TestClient, make_client: Callable[[], TestClient]
) -> None:
    """The read models are written in the command's transaction: right after each answer, the
    detail and the list (read through another app instance) show the new version and state.
    """
    reader = make_client()
    answers: list[dict[str, object]] = []

    def check(answer: dict[str, object]) -> None:
        answers.append(answer)
        case_id = answer["case_id"]
        detail = case(reader, str(case_id))
        assert (detail["version"], detail["state"]) == (answer["version"], answer["state"])
        row = ok(reader.get("/cases", headers=as_(COORDINATOR)))["items"][0]
        assert (row["case_id"], row["version"], row["state"]) == (
            case_id,
            answer["version"],
            answer["state"],
        )
        assert len(events(reader, str(case_id))) == answer["version"]

    first = refer(client, SUZUKI)
    check(first)
    case_id = first["case_id"]
    check(consent(client, case_id, [CENTER_AGENCY]))
    check(start_assessment(client, case_id))
    check(assess(client, case_id))
    check(ok(post(client, COORDINATOR, f"/cases/{case_id}/plans", plan_body(SIMPLE_ROLES))))
    meeting_id = layered_meeting(client, case_id, "plan", 1)
    check(
        ok(post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", {"meeting_id": meeting_id}))
    )
    check(
        ok(
            post(
                client,
                COORDINATOR,
                f"/cases/{case_id}/monitoring",
                {"on": "2026-06-01", "summary": "就労体験を継続", "contact_made": True},
            )
        )
    )
    assert [a["version"] for a in answers] == [1, 2, 3, 4, 5, 6, 7]
    assert case(reader, case_id)["current_plan"]["version"] == 1
    assert case(reader, case_id)["meetings"][0]["meeting_id"] == meeting_id


@pytest.mark.parametrize("separate_clients", [True, False], ids=["app_per_thread", "shared_app"])
@pytest.mark.parametrize("with_expected_version", [True, False], ids=["expected", "unversioned"])
def test_concurrent_commands_on_one_case_make_one_history(
    make_client: Callable[[], TestClient], separate_clients: bool, with_expected_version: bool
) -> None:
    """Eight parties record a contact attempt on one case at once. With the expected version,
    exactly one is accepted and the others answer 409 version_conflict; without it, every
    refused one answers 409 version_conflict. Either way the history has no gap or duplicate.
    """
    setup = make_client()
    case_id = case_in_support(setup, SUZUKI)
    version = case(setup, case_id)["version"]
    threads = 8
    clients = [make_client() for _ in range(threads)] if separate_clients else [setup] * threads
    barrier = threading.Barrier(threads)
    responses: list[Response | BaseException] = [RuntimeError("not run")] * threads

    def attempt(i: int) -> None:
        body: dict[str, object] = {
            "kind": "home_visit",
            "on": "2026-08-01",
            "reached": False,
            "note": f"訪問 {i}",
        }
        if with_expected_version:
            body["expected_version"] = version
        barrier.wait()
        try:
            responses[i] = post(clients[i], COORDINATOR, f"/cases/{case_id}/contact-attempts", body)
        except BaseException as exc:  # reported below with the others
            responses[i] = exc

    workers = [threading.Thread(target=attempt, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert not any(w.is_alive() for w in workers)

    statuses = [r.status_code if isinstance(r, Response) else repr(r) for r in responses]
    winners = [r for r in responses if isinstance(r, Response) and r.status_code == 200]
    if not with_expected_version:
        # without an expected version a late command may still be applied on the new version
        assert len(winners) >= 1, statuses
    else:
        assert len(winners) == 1, statuses
    for r in responses:
        assert isinstance(r, Response), statuses
        if r.status_code != 200:
            problem(r, 409, "version_conflict")
    accepted_versions = sorted(r.json()["version"] for r in winners)
    assert accepted_versions == list(range(version + 1, version + 1 + len(winners)))

    history = events(setup, case_id)
    assert [e["version"] for e in history] == list(range(1, version + len(winners) + 1))
    detail = case(make_client(), case_id)
    assert detail["version"] == version + len(winners)
    assert len(detail["contacts"]) == len(winners)
