"""Bounded input everywhere: every id, text, list and date of a request has a limit.

A value at a limit is accepted; one past it answers 422 `validation_failed` naming the field.
These run on SQLite and on PostgreSQL, where an unbounded value used to reach a column and
answer 500 (`DataError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError

from service.api.schemas.common import (
    FREE_TEXT_MAX,
    HOUSEHOLD_MAX,
    ID_MAX,
    LIST_MAX,
    MEETING_LIST_MAX,
    SHORT_TEXT_MAX,
)
from service.integration.feed import json_size
from service.main import create_app
from service.persistence.tables import worklist_items
from service.settings import Settings
from tests.e2e.support import (
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    MANDATORY,
    SUZUKI,
    as_,
    case_in_support,
    consent,
    meeting_body,
    ok,
    participant,
    plan_body,
    post,
    problem,
    refer,
)

Json = dict[str, Any]
FAR_CASE = "00000000-0000-4000-8000-000000000000"  # well-formed, unknown: schemas answer first


def with_referral(**changes: Any) -> Json:
    """Return Suzuki's referral with some intake fields changed."""
    return {**SUZUKI, "referral": {**SUZUKI["referral"], **changes}}


def with_person(**changes: Any) -> Json:
    """Return Suzuki's referral with some of the person's fields changed."""
    return {**SUZUKI, "person": {**SUZUKI["person"], **changes}}


def new_case(client: TestClient) -> str:
    """Refer Suzuki; return the consents path of the new case."""
    return f"/cases/{refer(client, SUZUKI)['case_id']}/consents"


def sharing(agency_ids: list[str]) -> Json:
    """Return the person's consent to share with `agency_ids`."""
    return {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": agency_ids,
        "given_by": "person",
        "given_on": "2026-04-03",
    }


def participants(count: int) -> list[Json]:
    """Return `count` participants: the mandatory two and other agencies."""
    others = [
        participant(f"agency-{n}", "community_general_support_center")
        for n in range(count - len(MANDATORY))
    ]
    return [*MANDATORY, *others]


HOST = {"name": "みどり農園", "kind": "work_experience"}
HOOK = {"url": "https://vendor.example/kasane"}


@dataclass(frozen=True)
class Limit:
    """One limit: a request at the limit (accepted) and one past it (refused)."""

    kind: str
    key: str
    path: Callable[[TestClient], str]
    body: Callable[[Any], Json]
    loc: tuple[str, ...]
    at_limit: Any
    past_limit: Any


def fixed(path: str) -> Callable[[TestClient], str]:
    """Return a path maker that needs no setup."""
    return lambda client: path


LIMITS = [
    Limit(
        "id-length",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_referral(referrer_agency_id=v),
        ("referral", "referrer_agency_id"),
        "a" * ID_MAX,
        "a" * (ID_MAX + 1),
    ),
    Limit(
        "id-pattern",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_referral(referrer_agency_id=v),
        ("referral", "referrer_agency_id"),
        "Kasane-9.a_b:c",
        "kasane/../9",
    ),
    Limit(
        "short-text",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_person(name=v),
        ("person", "name"),
        "名" * SHORT_TEXT_MAX,
        "名" * (SHORT_TEXT_MAX + 1),
    ),
    Limit(
        "free-text",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_referral(reason=v),
        ("referral", "reason"),
        "理" * FREE_TEXT_MAX,
        "理" * (FREE_TEXT_MAX + 1),
    ),
    Limit(
        "list",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_referral(concerns=v),
        ("referral", "concerns"),
        ["家計"] * LIST_MAX,
        ["家計"] * (LIST_MAX + 1),
    ),
    Limit(
        "household",
        COORDINATOR,
        fixed("/cases"),
        lambda v: {**SUZUKI, "household": [{"name": f"世帯員{n}"} for n in range(v)]},
        ("household",),
        HOUSEHOLD_MAX,
        HOUSEHOLD_MAX + 1,
    ),
    Limit(
        "latest-date",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_referral(received_on=v),
        ("referral", "received_on"),
        "2100-12-31",
        "2101-01-01",
    ),
    Limit(
        "earliest-date",
        COORDINATOR,
        fixed("/cases"),
        lambda v: with_person(birth_date=v),
        ("person", "birth_date"),
        "1900-01-01",
        "1899-12-31",
    ),
    Limit(
        "id-list",
        COORDINATOR,
        new_case,
        lambda v: sharing(v),
        ("agency_ids",),
        [f"agency-{n}" for n in range(LIST_MAX)],
        [f"agency-{n}" for n in range(LIST_MAX + 1)],
    ),
    Limit(
        "meeting-list",
        COORDINATOR,
        fixed("/meetings"),
        lambda v: meeting_body([], participants=participants(v)),
        ("participants",),
        MEETING_LIST_MAX,
        MEETING_LIST_MAX + 1,
    ),
    Limit(
        "register-text",
        CITY,
        fixed("/hosts"),
        lambda v: {**HOST, "name": v},
        ("name",),
        "園" * SHORT_TEXT_MAX,
        "園" * (SHORT_TEXT_MAX + 1),
    ),
    Limit(
        "webhook-secret",
        CITY,
        fixed("/webhooks"),
        lambda v: {**HOOK, "secret": v},
        ("secret",),
        "s" * SHORT_TEXT_MAX,
        "s" * (SHORT_TEXT_MAX + 1),
    ),
]


@pytest.mark.parametrize("limit", LIMITS, ids=[limit.kind for limit in LIMITS])
def test_a_value_at_the_limit_is_accepted_and_one_past_it_answers_422_naming_the_field(
    client: TestClient, limit: Limit
) -> None:
    """Just under the limit the command is done; just over it nothing is, and the field is named."""
    path = limit.path(client)

    accepted = post(client, limit.key, path, limit.body(limit.at_limit))
    assert accepted.status_code in (200, 201), accepted.text

    refused = problem(
        post(client, limit.key, path, limit.body(limit.past_limit)), 422, "validation_failed"
    )
    assert ["body", *limit.loc] in [e["loc"] for e in refused["errors"]]
    assert ".".join(["body", *limit.loc]) in refused["detail"]


NUL = "\x00"
CASE = f"/cases/{FAR_CASE}"
# One string of every kind of command body: ids, short texts, free texts, list items.
CONTROLLED = [
    ("/cases", with_referral(reason=f"理由{NUL}"), ("referral", "reason")),
    ("/cases", with_person(name=f"鈴木{NUL}ケン"), ("person", "name")),
    ("/cases", with_referral(referrer_agency_id=f"a{NUL}b"), ("referral", "referrer_agency_id")),
    ("/cases", with_referral(concerns=["家計", f"x{NUL}"]), ("referral", "concerns", "1")),
    (
        "/cases",
        {**SUZUKI, "household": [{"name": "鈴木", "relationship": "父\x1b"}]},
        ("household", "0", "relationship"),
    ),
    (f"{CASE}/consents", {**sharing([]), "method": "form\x7f"}, ("method",)),
    (f"{CASE}/consent-withdrawals", {"consent_id": "c\x00", "on": "2026-05-01"}, ("consent_id",)),
    (f"{CASE}/plans", {**plan_body([]), "policy": f"方針{NUL}"}, ("policy",)),
    (
        f"{CASE}/monitoring",
        {"on": "2026-06-01", "summary": "\x85", "contact_made": True},
        ("summary",),
    ),
    ("/meetings", {**meeting_body([]), "title": f"会議{NUL}"}, ("title",)),
    ("/meetings", {**meeting_body([]), "resource_shortages": [NUL]}, ("resource_shortages", "0")),
    ("/hosts", {**HOST, "contact": {"phone": f"0120{NUL}"}}, ("contact", "phone")),
    ("/webhooks", {**HOOK, "secret": f"{'s' * 16}{NUL}"}, ("secret",)),
    (
        f"{CASE}/engagements/outreach/activities",
        {
            "kind": "home_visit",
            "on": "2026-05-01",
            "outcome": "no_response",
            "contact_made": False,
            "notes": f"メモ{NUL}",
        },
        ("notes",),
    ),
    (
        f"{CASE}/engagements/participation/start",
        {"basis": "early_start", "reason": NUL, "started_on": "2026-05-01"},
        ("reason",),
    ),
    (
        "/community-issues/some-issue/status",
        {"status": "in_development", "note": NUL, "changed_on": "2026-05-01"},
        ("note",),
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "loc"), CONTROLLED, ids=[".".join(c[2]) for c in CONTROLLED]
)
def test_nul_and_control_characters_are_refused_in_every_kind_of_string(
    client: TestClient, path: str, body: Json, loc: tuple[str, ...]
) -> None:
    """A NUL (or another control character) never reaches a column: 422 naming the field."""
    key = CITY if path.startswith(("/hosts", "/webhooks", "/community-issues")) else COORDINATOR
    refused = problem(post(client, key, path, body), 422, "validation_failed")
    locs = [[str(part) for part in e["loc"]] for e in refused["errors"]]
    assert ["body", *loc] in locs, locs


def test_free_text_keeps_line_breaks_and_tabs(client: TestClient) -> None:
    """Tabs and line breaks are text, not control input: a reason may hold them."""
    reason = "一行目\r\n二行目\n\t字下げ"
    case_id = refer(client, with_referral(reason=reason))["case_id"]
    consent(client, case_id, [CENTER_AGENCY])  # the application gives the coordinator a basis
    detail = ok(client.get(f"/cases/{case_id}", headers=as_(COORDINATOR)))
    assert detail["referral"]["reason"] == reason


# --- query strings ---------------------------------------------------------------------------

LONGEST = "a" * ID_MAX
QUERIES = [
    ("/cases", "lead_agency_id", COORDINATOR, LONGEST),
    ("/cases", "state", COORDINATOR, LONGEST),
    ("/worklists", "agency_id", CITY, LONGEST),
    ("/meetings", "kind", COORDINATOR, LONGEST),
    ("/meetings", "held_from", COORDINATOR, "2026-05-01"),
    ("/hosts", "status", CITY, "retired"),  # a status outside the vocabulary is refused
    ("/engagements", "state", COORDINATOR, LONGEST),
    ("/community-issues", "status", CITY, "resolved"),
    ("/access-log", "case_id", CITY, LONGEST),
]


@pytest.mark.parametrize(
    ("path", "name", "key", "at_limit"), QUERIES, ids=[f"{q[0]}?{q[1]}" for q in QUERIES]
)
def test_query_filters_are_bounded(
    client: TestClient, path: str, name: str, key: str, at_limit: str
) -> None:
    """A 65-character id or a NUL in a filter answers 422 naming it, never a database error."""
    assert client.get(path, params={name: at_limit}, headers=as_(key)).status_code == 200
    for bad in ("a" * (ID_MAX + 1), f"a{NUL}b", "2026-05-01\n"):
        refused = problem(
            client.get(path, params={name: bad}, headers=as_(key)), 422, "validation_failed"
        )
        assert [e["loc"] for e in refused["errors"]] == [["query", name]]


def test_query_dates_are_bounded(client: TestClient) -> None:
    """A worklist or a report for a day past 2100 is refused; the last allowed day answers."""
    ok(client.get("/worklists", params={"as_of": "2100-12-31"}, headers=as_(CITY)))
    problem(
        client.get("/worklists", params={"as_of": "2101-01-01"}, headers=as_(CITY)),
        422,
        "validation_failed",
    )
    problem(
        client.get("/reports/state", params={"to": "9999-12-25"}, headers=as_(CITY)),
        422,
        "validation_failed",
    )


# --- worklists and far dates ---------------------------------------------------------------


def test_worklist_with_the_latest_allowed_dates_answers(client: TestClient) -> None:
    """Monitoring on the last allowed day and the longest no-contact span still compute."""
    case_id = case_in_support(client)
    body = {"on": "2100-12-31", "summary": "状況を確認", "contact_made": True}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/monitoring", body))
    params = {"no_contact_days": 3650, "as_of": "1900-01-01"}
    page = ok(client.get("/worklists", params=params, headers=as_(CITY)))
    no_contact = [i for i in page["items"] if i["kind"] == "no_contact"]
    assert no_contact and no_contact[0]["due_on"] == "2110-12-29"


def test_a_stored_far_future_date_does_not_take_the_worklist_down(
    client: TestClient, engine: Engine
) -> None:
    """A date stored before the limits (9999-12-25) lists as the last day, not a 500."""
    case_id = refer(client, SUZUKI)["case_id"]
    row = {
        "aggregate_id": case_id,
        "seq": 1,
        "municipality_id": "demo-city",
        "case_id": case_id,
        "kind": "no_contact",
        "due_on": dt.date(9999, 12, 25),
        "agency_id": COORDINATOR_AGENCY,
        "role": "coordinator",
        "label": "本人との接触なし",
    }
    with engine.begin() as conn:
        conn.execute(insert(worklist_items), [row])

    for key, path in ((CITY, "/worklists"), (COORDINATOR, "/worklists/mine")):
        page = ok(client.get(path, headers=as_(key)))
        assert [i["due_on"] for i in page["items"] if i["case_id"] == case_id] == ["9999-12-31"]


# --- the feed's byte budget ------------------------------------------------------------------


def feed(client: TestClient, after: int = 0) -> Json:
    """GET one page of the municipality's feed."""
    return ok(client.get("/events", params={"after": after, "limit": 500}, headers=as_(CITY)))


def test_a_feed_page_is_capped_in_bytes_and_resumes_right_after_its_last_event(
    database_url: str,
) -> None:
    """The byte budget ends a page before the count does: the rest comes on the next pages."""
    unbounded = TestClient(create_app(Settings(database_url=database_url)))
    for _ in range(4):
        refer(unbounded, SUZUKI)
    everything = feed(unbounded)["items"]
    sizes = [json_size(e) for e in everything]
    assert len(everything) == 4

    budget = sizes[0] + sizes[1] + sizes[2] // 2  # two events' bytes, not three
    capped = TestClient(create_app(Settings(database_url=database_url, feed_page_max_bytes=budget)))
    pages, after = [], 0
    while items := (page := feed(capped, after))["items"]:
        pages.append(items)
        assert page["next_after"] == int(items[-1]["sequence"])
        after = page["next_after"]
    assert [len(p) for p in pages] == [2, 2]
    assert [e for p in pages for e in p] == everything

    one_byte = TestClient(create_app(Settings(database_url=database_url, feed_page_max_bytes=1)))
    first = feed(one_byte)
    assert first["items"] == everything[:1]  # never an empty page while events remain
    assert feed(one_byte, first["next_after"])["items"] == everything[1:2]


# --- values the database refuses -------------------------------------------------------------


def refusing_app(database_url: str) -> FastAPI:
    """Return the app with one more route whose store refuses a value (as PostgreSQL does)."""
    app = create_app(Settings(database_url=database_url))

    def store() -> None:
        raise DataError("INSERT …", {}, ValueError("value too long for type character(64)"))

    app.add_api_route("/refused", store, methods=["POST"])
    return app


def test_a_database_data_error_answers_422_also_through_an_idempotency_key(
    database_url: str,
) -> None:
    """A DataError that got past the schemas is the client's input: 422 invalid_data, no 500."""
    client = TestClient(refusing_app(database_url), raise_server_exceptions=False)
    problem(post(client, COORDINATOR, "/refused", {}), 422, "invalid_data")

    keyed = {"Idempotency-Key": "refused-once"}
    first = problem(post(client, COORDINATOR, "/refused", {}, **keyed), 422, "invalid_data")
    again = post(client, COORDINATOR, "/refused", {}, **keyed)
    assert problem(again, 422, "invalid_data") == first
    assert again.headers.get("idempotent-replayed") == "true"


PATHS = [
    ("DELETE", "/webhooks/{}", "subscription_id", CITY),
    ("GET", "/hosts/{}", "host_id", CITY),
    ("GET", "/community-issues/{}", "issue_id", CITY),
    ("GET", "/meetings/{}", "meeting_id", COORDINATOR),
    ("GET", "/cases/{}/events", "case_id", COORDINATOR),
    ("POST", "/cases/{}/engagements/outreach/start", "case_id", COORDINATOR),
]


@pytest.mark.parametrize(("method", "path", "name", "key"), PATHS, ids=[p[1] for p in PATHS])
def test_ids_in_paths_are_bounded(
    client: TestClient, method: str, path: str, name: str, key: str
) -> None:
    """A NUL or a 65-character id in a path answers 422 naming it (PostgreSQL answered 500)."""
    body = {"basis": "early_start", "started_on": "2026-04-10"} if method == "POST" else None
    at_limit = client.request(method, path.format("a" * ID_MAX), json=body, headers=as_(key))
    problem(at_limit, 404, "not_found")
    for bad in ("a%00b", "a" * (ID_MAX + 1)):
        response = client.request(method, path.format(bad), json=body, headers=as_(key))
        refused = problem(response, 422, "validation_failed")
        assert ["path", name] in [e["loc"] for e in refused["errors"]]


def test_consent_of_limit_sized_ids_is_stored(client: TestClient) -> None:
    """Ids at the limit fit every column they reach (case list, consents, access log)."""
    longest = "c" * ID_MAX
    case_id = refer(client, with_referral(referrer_agency_id=longest))["case_id"]
    consent(client, case_id, [longest, CENTER_AGENCY])
    listed = ok(client.get("/cases", headers=as_(COORDINATOR)))["items"]
    assert [c["referrer_agency_id"] for c in listed] == [longest]


# --- every body, also the ones added later ---------------------------------------------------


def unbounded(schema: Json, components: Json, where: str, seen: set[str]) -> list[str]:
    """Return the places in `schema` where a string or a list has no upper bound."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return []
        return unbounded(components[name], components, name, seen | {name})
    found = [
        place
        for key in ("anyOf", "oneOf", "allOf")
        for option in schema.get(key, [])
        for place in unbounded(option, components, where, seen)
    ]
    kind = schema.get("type")
    bounds = {"maxLength", "enum", "const"} & schema.keys()
    if kind == "string" and not bounds and schema.get("format") != "date":
        found.append(where)
    if kind == "array":
        if "maxItems" not in schema:
            found.append(where)
        found += unbounded(schema.get("items", {}), components, f"{where}[]", seen)
    for name, field in schema.get("properties", {}).items():
        found += unbounded(field, components, f"{where}.{name}", seen)
    return found


def test_no_request_body_has_an_unbounded_string_or_list(client: TestClient) -> None:
    """Every string of every command body has a maximum length, every list a maximum size."""
    document = client.app.openapi()  # type: ignore[attr-defined]
    components = document["components"]["schemas"]
    found = [
        place
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for media in operation.get("requestBody", {}).get("content", {}).values()
        for place in unbounded(media["schema"], components, f"{method} {path}", set())
    ]
    assert found == []
