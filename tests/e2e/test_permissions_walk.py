"""Every route against the role table, and every route across municipalities (OWASP API1, API5).

The walks read the routes from the app itself: a new endpoint is walked the day it is added, and
one without a permission (or without a valid body for the tenant walk) fails here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event

from service.api.deps import is_public, route_permission
from service.domain.permissions import PERMISSIONS
from service.domain.values import Role
from service.persistence.schema import EVENTS_TABLE, SNAPSHOTS_TABLE
from tests.e2e.support import (
    COORDINATOR,
    SATO,
    SIMPLE_ROLES,
    SUZUKI,
    as_,
    case,
    case_in_support,
    contact_attempt,
    events,
    item,
    meeting_body,
    ok,
    plan_body,
    problem,
    refer,
)

Json = dict[str, Any]
MakeKey = Callable[[str, Role], str]

# The routes anyone may call (the workflow router marks them public); nothing else is.
PUBLIC = {("GET", "/workflow"), ("GET", "/health"), ("GET", "/ready")}

# What a path parameter stands for in the walks; a new kind of parameter must be added here.
PATH_PARAMETERS = {"case_id": "case_id", "meeting_id": "meeting_id"}
# No subscription is walked: a case id stands in (test_webhooks.py walks a subscription's tenancy).
PATH_PARAMETERS["subscription_id"] = "case_id"
# Hosts and community issues: a case id stands in (another aggregate answers 404 like a missing
# one); test_registers_and_report.py walks their tenancy with real ids.
PATH_PARAMETERS["host_id"] = "case_id"
PATH_PARAMETERS["issue_id"] = "case_id"
ID_QUERY_PARAMETERS = {"case_id", "meeting_id"}

# A valid body per command, so that the tenant walk reaches the lookup of the ids it carries.
# "{case_id}" and "{meeting_id}" are filled with the ids under test.
BODIES: dict[str, Json] = {
    "refer_case": SATO,
    "record_explanation": {"kind": "explanation", "on": "2026-04-02"},
    "give_consent": {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": ["x"],
        "given_by": "person",
        "given_on": "2026-04-03",
    },
    "withdraw_consent": {"consent_id": "consent-1", "on": "2026-04-04"},
    "start_assessment": {},
    "refer_to_council": {"reason": "本人と連絡が取れない"},
    "return_to_referrer": {"consultation": {"consulted_on": "2026-04-05", "summary": "調整不要"}},
    "record_early_start": {"service": "outreach", "reason": "r", "started_on": "2026-04-05"},
    "record_contact_attempt": {"kind": "phone", "on": "2026-04-10", "reached": False},
    "complete_assessment": {"summary": "世帯全体の課題を整理"},
    "draft_plan": plan_body(SIMPLE_ROLES),
    "approve_plan": {"meeting_id": "{meeting_id}"},
    "approve_replan": {"meeting_id": "{meeting_id}"},
    "decide_support": {"granted": True, "decided_on": "2026-05-12"},
    "record_monitoring": {"on": "2026-06-01", "summary": "継続", "contact_made": True},
    "start_replan": {"reason": "就労先が変わった"},
    "close_case": {
        "meeting_id": "{meeting_id}",
        "lead_agency_id": "x",
        "follow_up": {"needed": False},
    },
    "suspend_case": {"meeting_id": "{meeting_id}", "reason": "連絡が完全に途絶えた"},
    "resume_case": {"reason": "連絡が回復した", "resumed_on": "2026-09-01"},
    "erase_personal_data": {"person_id": "person", "reason": "保存期間の満了"},
    "manage_webhooks": {"url": "https://vendor.example/hooks", "event_types": []},
    "replay_dead_letters": {},
    "record_meeting": meeting_body(
        [item("{case_id}", "none", None, "noted")], kind="case_conference"
    ),
    "register_host": {"name": "みどり農園", "kind": "work_experience", "capacity": 3},
    "update_host": {"capacity": 4},
    "retire_host": {"retired_on": "2026-06-30", "reason": "閉鎖"},
    "change_community_issue_status": {
        "status": "in_development",
        "note": "協議開始",
        "changed_on": "2026-06-10",
    },
}
# Outreach and participation support: the same bodies under each service's action names.
for _service in ("outreach", "participation"):
    BODIES.update(
        {
            f"{_service}.start": {
                "basis": "early_start",
                "reason": "r",
                "started_on": "2026-04-05",
            },
            f"{_service}.draft_plan": {"goals": ["g"], "policy": "p", "monitoring_dates": []},
            f"{_service}.approve_plan": {"meeting_id": "{meeting_id}"},
            f"{_service}.approve_replan": {"meeting_id": "{meeting_id}"},
            f"{_service}.close_engagement": {"meeting_id": "{meeting_id}"},
            f"{_service}.suspend_engagement": {"meeting_id": "{meeting_id}", "reason": "途絶"},
            f"{_service}.resume_engagement": {"reason": "回復", "resumed_on": "2026-09-01"},
        }
    )
BODIES.update(
    {
        "outreach.record_activity": {
            "kind": "home_visit",
            "on": "2026-04-06",
            "outcome": "no_response",
            "contact_made": False,
        },
        "participation.record_intake": {"on": "2026-06-16"},
        "participation.assess": {"on": "2026-06-20"},
        "participation.match_host": {"host_id": "h", "menu": "就労体験", "starts_on": "2026-07-01"},
        "participation.record_settling_in": {"on": "2026-07-02", "party": "person"},
        "participation.record_follow_up": {"on": "2026-07-15", "party": "host"},
        "participation.pay_cost": {
            "host_id": "h",
            "amount_yen": 1000,
            "period_from": "2026-07-01",
            "period_to": "2026-07-31",
            "purpose": "実費",
            "paid_on": "2026-08-10",
        },
        "participation.record_periodic_contact": {
            "on": "2026-12-01",
            "contact_made": True,
            "next_contact_due": "2027-03-01",
        },
    }
)


# Commands whose answer carries a fresh id (a new case, a new webhook subscription and secret).
CREATES = {"refer_case", "manage_webhooks", "register_host"}


def _app_of(client: TestClient) -> FastAPI:
    app = client.app
    assert isinstance(app, FastAPI)
    return app


def _operations(app: FastAPI) -> list[tuple[str, Any]]:
    """Return (method, route) of every API route as served, included routers resolved."""
    try:  # FastAPI >= 0.16x keeps included routers nested; this yields the effective routes
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI copies every route into app.routes
        routes: list[Any] = [r for r in app.routes if isinstance(r, APIRoute)]
    else:
        routes = [
            c for c in iter_route_contexts(app.routes) if isinstance(c.original_route, APIRoute)
        ]
    return sorted(((m, r) for r in routes for m in r.methods), key=lambda o: (o[1].path, o[0]))


def _guarded(app: FastAPI) -> list[tuple[str, Any, str]]:
    guarded = []
    for method, route in _operations(app):
        action = route_permission(route)
        if action is not None:
            guarded.append((method, route, action))
    return guarded


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids) if "{" in value else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _path(route: Any, ids: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in PATH_PARAMETERS, f"{route.path}: add {{{name}}} to PATH_PARAMETERS"
        return ids[PATH_PARAMETERS[name]]

    return re.sub(r"{(\w+)}", value, route.path)


def _random_ids() -> dict[str, str]:
    return {"case_id": str(uuid.uuid4()), "meeting_id": str(uuid.uuid4())}


# --- (a) every route is public or guarded -----------------------------------------------------


def test_R_ORG_1_every_route_is_public_or_guarded_by_the_role_table(client: TestClient) -> None:
    """R-ORG-1: each route names an action of PERMISSIONS, or is one of the two public routes;
    the OpenAPI document states which roles may call it.
    """
    app = _app_of(client)
    public, unguarded, unknown = set(), [], []
    for method, route in _operations(app):
        action = route_permission(route)
        if is_public(route):
            assert action is None, route.path
            public.add((method, route.path))
        elif action is None:
            unguarded.append(f"{method} {route.path}")
        elif action not in PERMISSIONS:
            unknown.append(f"{method} {route.path}: {action}")
    assert unguarded == []
    assert unknown == []
    assert public == PUBLIC

    document = app.openapi()
    for method, route, action in _guarded(app):
        operation = document["paths"][route.path_format][method.lower()]
        roles = sorted(str(r) for r in PERMISSIONS[action])
        assert operation["x-permission"] == {"action": action, "roles": roles}, route.path
        assert operation["security"], route.path
    for method, path in PUBLIC:
        assert document["paths"][path][method.lower()]["x-permission"] == {"public": True}


def test_public_routes_need_no_credential_and_the_others_do(client: TestClient) -> None:
    """Without a credential only /workflow, /health and /ready answer; everything else is 401."""
    for method, route in _operations(_app_of(client)):
        response = client.request(method, _path(route, _random_ids()), json={})
        if (method, route.path) in PUBLIC:
            assert response.status_code == 200, route.path
        else:
            problem(response, 401, "unauthenticated")


# --- (b) every route × every role -----------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_R_ORG_1_each_role_is_refused_exactly_where_the_table_says(
    client: TestClient, make_api_key: MakeKey, role: Role
) -> None:
    """R-ORG-1: with a credential of `role`, a route answers 403 role_not_permitted exactly when
    the role is not in PERMISSIONS[action]; otherwise anything but 401 and 403 (404 for a random
    id, 422 for the empty body, 200 for a list).
    """
    key = make_api_key("walk-town", role)
    wrong = []
    for method, route, action in _guarded(_app_of(client)):
        response = client.request(method, _path(route, _random_ids()), json={}, headers=as_(key))
        if role in PERMISSIONS[action]:
            if response.status_code in (401, 403):
                wrong.append(f"{method} {route.path} ({action}): {response.status_code}")
        elif response.status_code != 403 or response.json()["code"] != "role_not_permitted":
            wrong.append(f"{method} {route.path} ({action}): {response.status_code}, want 403")
    assert wrong == []


def test_R_ORG_1_the_role_is_checked_before_the_body_and_headers(
    client: TestClient, make_api_key: MakeKey
) -> None:
    """FastAPI solves a route's `dependencies` before its parameters and validates the body
    last, so a forbidden role learns nothing about the body's shape: an empty body that a
    permitted role gets 422 for, and a malformed If-Match, still answer 403.
    """
    keys = {role: make_api_key("walk-town", role) for role in Role}
    checked = 0
    for method, route, action in _guarded(_app_of(client)):
        forbidden = [r for r in Role if r not in PERMISSIONS[action]]
        permitted = [r for r in Role if r in PERMISSIONS[action]]
        if method != "POST" or not forbidden:
            continue
        path = _path(route, _random_ids())
        headers = {"If-Match": "not-a-version"}
        as_permitted = client.post(path, json=[], headers={**headers, **as_(keys[permitted[0]])})
        assert as_permitted.status_code == 422, route.path
        as_forbidden = client.post(path, json=[], headers={**headers, **as_(keys[forbidden[0]])})
        problem(as_forbidden, 403, "role_not_permitted")
        checked += 1
    assert checked >= 20


# --- tenant isolation: municipality A reaches nothing of municipality B ------------------------


def _mentions_ids(body: Any) -> bool:
    return "{case_id}" in str(body) or "{meeting_id}" in str(body)


def _comparable(response: Response, ids: list[str]) -> tuple[int, str]:
    text = response.text
    for value in ids:
        text = text.replace(value, "<id>")
    return response.status_code, text


def _send(
    client: TestClient, key: str, method: str, route: Any, action: str, ids: dict[str, str]
) -> Response:
    """Send the request of `route` with `ids` in its path, body and id query parameters."""
    query = {
        p.alias: ids[p.alias]
        for p in route.dependant.query_params
        if p.alias in ID_QUERY_PARAMETERS
    }
    body = _fill(BODIES[action], ids) if method == "POST" else None
    return client.request(method, _path(route, ids), json=body, params=query, headers=as_(key))


def test_OWASP_API1_no_route_reaches_another_municipalitys_data(
    client: TestClient, make_api_key: MakeKey
) -> None:
    """R-ORG-2 (OWASP API1 BOLA): demo-city (B) has a case in support with a contact and a plan
    meeting. On every route, other-town (A), with a role that may call it, gets for B's ids
    exactly what it gets for random ids — 404 not_found wherever an id is looked up — in the
    path, in the body and in the query; no other answer carries B's ids, and none B's person;
    and B's case is unchanged afterwards.
    """
    b_case = case_in_support(client, SUZUKI)
    contact_attempt(client, b_case, "phone", True)
    b_meeting = case(client, b_case)["meetings"][0]["meeting_id"]
    b_ids = {"case_id": b_case, "meeting_id": b_meeting}
    b_version, b_history = case(client, b_case)["version"], events(client, b_case)

    preference = [Role.coordinator, Role.municipality, *Role]
    keys = {role: make_api_key("other-town", role) for role in Role}
    a_case = refer(client, SATO, keys[Role.coordinator])["case_id"]
    leaks: list[str] = []

    for method, route, action in _guarded(_app_of(client)):
        key = keys[next(r for r in preference if r in PERMISSIONS[action])]
        if method == "POST":
            assert action in BODIES, f"{route.path}: add a valid body for {action} to BODIES"
        has_path_ids = "{" in route.path
        looks_up = has_path_ids or (method == "POST" and _mentions_ids(BODIES[action]))
        random = _random_ids()
        pairs = [(b_ids, random)]
        if has_path_ids and method == "POST" and _mentions_ids(BODIES[action]):
            # B's meeting in the body of a command on A's own case
            pairs.append(({**b_ids, "case_id": a_case}, {**random, "case_id": a_case}))
        for ids, other in pairs:
            where = f"{method} {route.path} ({action}) with {sorted(ids.items())}"
            to_b = _send(client, key, method, route, action, ids)
            to_random = _send(client, key, method, route, action, other)
            if looks_up and (to_b.status_code != 404 or to_b.json()["code"] != "not_found"):
                leaks.append(f"{where}: {to_b.status_code} {to_b.text[:200]}")
            if not looks_up:
                assert to_b.status_code in (200, 201), f"{where}: {to_b.text}"
            ignore = [*b_ids.values(), *random.values()]
            if action not in CREATES and _comparable(to_b, ignore) != _comparable(
                to_random, ignore
            ):
                leaks.append(f"{where}: answers differently from a random id")
            # a 404 may echo the id it was asked for; any other answer names nothing of B's
            secrets = ["鈴木ケン"] if looks_up else [*b_ids.values(), "鈴木ケン"]
            leaks += [f"{where}: carries {s}" for s in secrets if s in to_b.text]

    assert leaks == []
    assert case(client, b_case)["version"] == b_version
    assert events(client, b_case) == b_history
    assert ok(client.get(f"/meetings/{b_meeting}", headers=as_(COORDINATOR)))["meeting_id"]


def test_R_ORG_2_no_route_reads_another_municipalitys_events(
    client: TestClient, make_api_key: MakeKey
) -> None:
    """R-ORG-2 (tenant first): on every route that looks an id up, other-town's request for
    demo-city's case and meeting answers 404 without one statement on the event or snapshot
    table — the tenant comes from the index, so a foreign id costs what a random one costs."""
    b_case = case_in_support(client, SUZUKI)
    b_meeting = case(client, b_case)["meetings"][0]["meeting_id"]
    b_ids = {"case_id": b_case, "meeting_id": b_meeting}
    keys = {role: make_api_key("other-town", role) for role in Role}
    preference = [Role.coordinator, Role.municipality, *Role]
    engine = client.app.state.kasane.engine  # type: ignore[attr-defined]
    reads: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if EVENTS_TABLE in statement or SNAPSHOTS_TABLE in statement:
            reads.append(statement)

    walked, readers = 0, []
    for method, route, action in _guarded(_app_of(client)):
        looks_up = "{" in route.path or (method == "POST" and _mentions_ids(BODIES[action]))
        if not looks_up:
            continue
        key = keys[next(r for r in preference if r in PERMISSIONS[action])]
        event.listen(engine, "before_cursor_execute", record)
        try:
            response = _send(client, key, method, route, action, b_ids)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        if response.status_code == 404 and reads:
            readers.append(f"{method} {route.path} ({action}): {reads[0][:80]}")
        reads.clear()
        walked += 1
    assert readers == []
    assert walked >= 40
