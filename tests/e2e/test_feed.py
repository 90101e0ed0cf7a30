"""The ordered event feed: CloudEvents envelopes, a resumable cursor, one tenant's events only."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from service.domain.values import Role
from service.main import create_app
from service.persistence.tables import event_index
from service.settings import Settings
from tests.e2e.conftest import OTHER_COORDINATOR
from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CITY,
    COORDINATOR,
    SATO,
    SUZUKI,
    YAMADA,
    as_,
    case_in_planning,
    hold_meeting,
    item,
    meeting_body,
    ok,
    post,
    problem,
    refer,
)

Json = dict[str, Any]
CLOUD_EVENT_FIELDS = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "sequence",
    "data",
}


def feed(client: TestClient, after: int = 0, limit: int = 500, key: str = CITY) -> Json:
    """GET one page of the feed."""
    page: Json = ok(
        client.get("/events", params={"after": after, "limit": limit}, headers=as_(key))
    )
    return page


def read_all(client: TestClient, after: int = 0, limit: int = 500, key: str = CITY) -> list[Json]:
    """Page through the feed from `after` to its end."""
    items: list[Json] = []
    while True:
        page = feed(client, after, limit, key)
        if not page["items"]:
            assert page["next_after"] == after
            return items
        items += page["items"]
        after = page["next_after"]


def positions(items: list[Json]) -> list[int]:
    """Return the feed positions of `items`."""
    return [int(i["sequence"]) for i in items]


def tenant_index(engine: Engine, municipality_id: str) -> list[int]:
    """Return the tenant's positions as written in the event index."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(event_index.c.notification_id)
                .where(event_index.c.municipality_id == municipality_id)
                .order_by(event_index.c.notification_id)
            ).scalars()
        )


def test_events_are_cloudevents_without_personal_data(client: TestClient) -> None:
    """Every item is a CloudEvents 1.0 envelope; the person's and household's data and the
    assessment narrative never appear (R-CON-1: integrators read them through the case)."""
    case_id = case_in_planning(client, SATO)
    meeting_id = hold_meeting(
        client, meeting_body([item(case_id, "none", None, "noted")], kind="case_conference")
    )
    response = client.get("/events", headers=as_(CITY))
    items = ok(response)["items"]

    assert [i["type"] for i in items] == [
        "jp.kasane.CaseReferred",
        "jp.kasane.ConsentGiven",
        "jp.kasane.AssessmentStarted",
        "jp.kasane.AssessmentCompleted",
        "jp.kasane.MeetingRecorded",
    ]
    for i, event in enumerate(items):
        assert set(event) == CLOUD_EVENT_FIELDS
        assert event["specversion"] == "1.0"
        assert event["datacontenttype"] == "application/json"
        assert event["sequence"].isdigit() and len(event["sequence"]) == 20
        assert datetime.fromisoformat(event["time"]).utcoffset() is not None
        assert event["time"].endswith("Z")
        assert event["data"]["actor"]["municipality_id"] == "demo-city"
        if i < 4:
            assert event["subject"] == case_id
            assert event["id"] == f"{case_id}:{i + 1}"
            assert event["source"] == "/municipalities/demo-city/cases"
    assert items[-1]["subject"] == meeting_id
    assert items[-1]["source"] == "/municipalities/demo-city/meetings"
    assert positions(items) == sorted(set(positions(items)))

    referred, assessed = items[0]["data"], items[3]["data"]
    assert "person" not in referred and "household" not in referred
    assert referred["referral"]["referrer_kind"] == "child_user_support"
    assert "summary" not in assessed["assessment"]
    assert "narrative" not in assessed["assessment"]
    # the domains looked at describe the person's situation: not a workflow fact (issue 11)
    assert "domains" not in assessed["assessment"]
    for personal in (
        "佐藤ミキ",
        "佐藤ソラ",
        "佐藤ゲン",
        "世帯全体の課題を整理",
        "公共料金の未払い",
    ):
        assert personal not in response.text


def test_the_roles_of_the_feed(
    client: TestClient, make_api_key: Callable[[str, Role], str]
) -> None:
    """The municipality, the coordinator, the integration client and the auditor read the
    feed; a consultation agency does not (R-ORG-1)."""
    refer(client, SUZUKI)
    integration = make_api_key("demo-city", Role.integration_client)
    for key in (CITY, COORDINATOR, AUDITOR, integration):
        assert len(feed(client, key=key)["items"]) == 1
    problem(client.get("/events", headers=as_(CENTER)), 403, "role_not_permitted")
    problem(client.get("/events?limit=501", headers=as_(CITY)), 422, "validation_failed")
    problem(client.get("/events?after=-1", headers=as_(CITY)), 422, "validation_failed")


def test_the_cursor_resumes_without_gap_or_duplicate(client: TestClient) -> None:
    """Paging two at a time from any position gives exactly the events after it, once each;
    past the end the page is empty and `next_after` stays where it was."""
    case_in_planning(client, SATO)
    refer(client, YAMADA)
    everything = feed(client)["items"]
    assert len(everything) == 5
    assert feed(client)["next_after"] == positions(everything)[-1]

    assert read_all(client, limit=2) == everything
    middle = positions(everything)[2]
    assert read_all(client, after=middle, limit=2) == everything[3:]
    end = positions(everything)[-1]
    assert feed(client, after=end) == {"items": [], "next_after": end}
    assert feed(client, after=end + 1000) == {"items": [], "next_after": end + 1000}

    refer(client, SUZUKI)  # a later event continues after the end, nothing re-sent
    later = feed(client, after=end)["items"]
    assert [e["type"] for e in later] == ["jp.kasane.CaseReferred"]
    assert positions(later)[0] > end


def test_another_municipalitys_events_never_enter_the_feed(
    client: TestClient, other_town_client: TestClient, engine: Engine
) -> None:
    """R-ORG-2: events of other-town between demo-city's are not in demo-city's feed, and
    demo-city's feed is exactly its rows of the event index, pages skipping the others."""
    ours = refer(client, SATO)["case_id"]
    theirs = refer(other_town_client, YAMADA, OTHER_COORDINATOR)["case_id"]
    post(
        client,
        COORDINATOR,
        f"/cases/{ours}/explanations",
        {"kind": "explanation", "on": "2026-04-02"},
    )
    post(
        other_town_client,
        OTHER_COORDINATOR,
        f"/cases/{theirs}/explanations",
        {"kind": "explanation", "on": "2026-04-02"},
    )
    refer(client, SUZUKI)

    mine = read_all(client, limit=1)
    assert positions(mine) == tenant_index(engine, "demo-city")
    assert len(mine) == 3
    assert {e["subject"] for e in mine} == {ours, mine[-1]["subject"]}
    assert all(e["source"].startswith("/municipalities/demo-city/") for e in mine)
    assert theirs not in str(mine)

    other = read_all(other_town_client, key=OTHER_COORDINATOR)
    assert positions(other) == tenant_index(engine, "other-town")
    assert [e["subject"] for e in other] == [theirs, theirs]
    assert not set(positions(mine)) & set(positions(other))


def test_a_reader_paging_during_concurrent_writes_misses_nothing(
    settings: Settings, engine: Engine, make_api_key: Callable[[str, Role], str]
) -> None:
    """Four writers (two per municipality, each its own app) commit 15 commands each while a
    reader pages demo-city's feed from its cursor: what it saw, in order, is exactly demo-city's
    event index — strictly increasing, no gap, no duplicate."""
    unlimited = settings.model_copy(update={"rate_limit_per_minute": 0})
    other_key = make_api_key("other-town", Role.coordinator)
    writers = [(COORDINATOR, SATO), (COORDINATOR, YAMADA), (other_key, SATO), (other_key, SUZUKI)]
    failures: list[str] = []
    done = threading.Event()
    seen: list[int] = []
    pages_while_writing = 0
    barrier = threading.Barrier(len(writers) + 1)

    # Apps are built here: building FastAPI apps in several threads at once is not safe.
    clients = [TestClient(create_app(unlimited)) for _ in range(len(writers) + 1)]

    def write(client: TestClient, key: str, case: Json) -> None:
        barrier.wait()
        case_id = ""
        for n in range(15):
            if n % 3 == 0:
                response = post(client, key, "/cases", case)
                case_id = response.json().get("case_id", "")
            else:
                body = {"kind": "explanation", "on": "2026-04-02", "note": f"{n}"}
                response = post(client, key, f"/cases/{case_id}/explanations", body)
            if response.status_code not in (200, 201):
                failures.append(f"{response.status_code} {response.text[:200]}")

    def read() -> None:
        nonlocal pages_while_writing
        client = clients[-1]
        barrier.wait()
        after = 0
        while True:
            last_pass = done.is_set()  # read once more after the writers finished
            page = feed(client, after, limit=7)
            seen.extend(positions(page["items"]))
            pages_while_writing += bool(page["items"]) and not last_pass
            after = page["next_after"]
            if last_pass and not page["items"]:
                return
            if not page["items"]:
                time.sleep(0.005)

    threads = [
        threading.Thread(target=write, args=(c, *w)) for c, w in zip(clients, writers, strict=False)
    ]
    reader = threading.Thread(target=read)
    for t in [*threads, reader]:
        t.start()
    for t in threads:
        t.join(timeout=60)
    done.set()
    reader.join(timeout=60)
    assert not any(t.is_alive() for t in [*threads, reader])

    assert failures == []
    assert pages_while_writing >= 2  # the reader did read while the writers wrote
    expected = tenant_index(engine, "demo-city")
    assert len(expected) == 30
    assert seen == expected
    assert all(a < b for a, b in itertools.pairwise(seen))
    assert len(tenant_index(engine, "other-town")) == 30
