"""Issue 11: a unique marker in every identity and sensitive field, the case driven through its
life (a council-track phase with a support council, consent, outreach, plan, meeting,
monitoring, closure), then every read route read as every role.

A marker appears only where the reader has a basis (R-CON-1, R-CON-2, R-CON-4, R-OUT-3) and
never in the feed, webhook bodies (the outbox), logs, error bodies, stored idempotency
responses or the database in plaintext (every table, and on SQLite the file and its -wal).
After erasure it appears nowhere through the API. Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect, text

from service.domain.values import Role
from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    CITY_AGENCY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    SELF_RELIANCE,
    as_,
    item,
    meeting_body,
    ok,
    participant,
    post,
)
from tests.integration.test_webhooks import Receiver, drain, receiver

Json = dict[str, Any]
RUN = "mk"  # every marker starts with it: `mk:<field>:`


def marker(name: str) -> str:
    """Return the unique marker of one field."""
    return f"{RUN}:{name}:"


@dataclass
class Markers:
    """The markers planted, by what protects them."""

    identity: set[str] = field(default_factory=set)
    sensitive: set[str] = field(default_factory=set)
    council: set[str] = field(default_factory=set)
    meeting: set[str] = field(default_factory=set)
    # a meeting's resource shortage: the meeting's text, and published to the municipality's
    # community-issue register (R-RES-1), which every role of it reads
    community: set[str] = field(default_factory=set)

    def plant(self, kind: str, name: str) -> str:
        value = marker(name)
        getattr(self, kind).add(value)
        return value

    @property
    def every(self) -> set[str]:
        return self.identity | self.sensitive | self.council | self.meeting | self.community


def found(markers: Iterable[str], body: str) -> set[str]:
    """Return the markers present in `body`."""
    return {m for m in markers if m in body}


@dataclass
class Life:
    """The case, its meetings and what was planted."""

    case_id: str
    meetings: list[str]
    markers: Markers


def drive(client: TestClient) -> Life:
    """Drive one case through its life with a marker in every free-text and identity field."""
    m = Markers()
    body = {
        "referral": {
            "route": "referral",
            "referrer_agency_id": CENTER_AGENCY,
            "referrer_kind": "community_general_support_center",
            "received_on": "2026-04-01",
            "reason": m.plant("sensitive", "referral.reason"),
            "concerns": [m.plant("sensitive", "referral.concerns")],
            "main_concern": m.plant("sensitive", "referral.main_concern"),
            "wishes": m.plant("sensitive", "referral.wishes"),
        },
        "person": {
            "name": m.plant("identity", "person.name"),
            "name_kana": m.plant("identity", "person.name_kana"),
            "address": m.plant("identity", "person.address"),
            "email": "mk-person@example.jp",
        },
        "household": [
            {
                "name": m.plant("identity", "member.name"),
                "relationship": m.plant("identity", "member.relationship"),
                "note": m.plant("identity", "member.note"),
            }
        ],
    }
    # A refused body does not echo what it carried (error bodies).
    bad = {**body, "referral": {**body["referral"], "received_on": "not-a-date"}}
    refused = post(client, COORDINATOR, "/cases", bad)
    assert refused.status_code == 422 and found(m.every, refused.text) == set()
    # A keyed command's stored answer holds no text (idempotency responses).
    referred = post(client, COORDINATOR, "/cases", body, **{"Idempotency-Key": "sweep-referral"})
    case_id = ok(referred, 201)["case_id"]
    path = f"/cases/{case_id}"

    def command(key: str, route: str, payload: Json, status: int = 200) -> Json:
        return ok(post(client, key, f"{path}/{route}", payload), status)

    command(
        COORDINATOR,
        "explanations",
        {"kind": "explanation", "on": "2026-04-02", "note": m.plant("sensitive", "expl.note")},
    )
    # the council track: no consent yet (R-CON-2)
    command(CITY, "council-referral", {"reason": m.plant("council", "council.reason")})
    council = meeting_body(
        [{**item(case_id, "none", None, "noted"), "note": m.plant("meeting", "council.note")}],
        kind="support_council",
        title=m.plant("meeting", "council.title"),
        held_on="2026-04-05",
        participants=[
            participant(CITY_AGENCY, "municipality"),
            participant(CENTER_AGENCY, "community_general_support_center"),
        ],
    )
    council_id = ok(post(client, CITY, "/meetings", council), 201)["meeting_id"]
    # outreach starts early on the council track; its visits are facts only (R-OUT-3)
    ok(
        post(
            client,
            COORDINATOR,
            f"{path}/engagements/outreach/start",
            {
                "basis": "early_start",
                "reason": m.plant("sensitive", "outreach.start.reason"),
                "started_on": "2026-04-07",
            },
        ),
        201,
    )
    ok(
        post(
            client,
            COORDINATOR,
            f"{path}/engagements/outreach/activities",
            {
                "kind": "home_visit",
                "on": "2026-04-08",
                "outcome": "no_response",
                "contact_made": False,
            },
        )
    )
    # consent: the person applies and covers the general support center (R-INT-2, R-CON-1)
    command(
        COORDINATOR,
        "consents",
        {
            "person_id": "person",
            "application_for_use": True,
            "agency_ids": [CENTER_AGENCY],
            "given_by": "person",
            "given_on": "2026-04-10",
            "method": m.plant("sensitive", "consent.method"),
        },
    )
    command(COORDINATOR, "assessment-start", {})
    command(
        COORDINATOR,
        "assessments",
        {
            "domains": [
                {
                    "domain": m.plant("sensitive", "assessment.domain"),
                    "items": [m.plant("sensitive", "assessment.items")],
                    "narrative": m.plant("sensitive", "assessment.narrative"),
                }
            ],
            "information_sources": [{"agency_id": CENTER_AGENCY, "requested_on": "2026-04-11"}],
            "summary": m.plant("sensitive", "assessment.summary"),
        },
    )
    ok(
        post(
            client,
            COORDINATOR,
            f"{path}/engagements/outreach/activities",
            {
                "kind": "home_visit",
                "on": "2026-04-12",
                "outcome": "met",
                "contact_made": True,
                "notes": m.plant("sensitive", "outreach.notes"),
            },
        )
    )
    command(
        COORDINATOR,
        "plans",
        {
            "goals": [m.plant("sensitive", "plan.goals")],
            "policy": m.plant("sensitive", "plan.policy"),
            "roles": [
                {
                    "agency_id": CENTER_AGENCY,
                    "agency_kind": "community_general_support_center",
                    "role": m.plant("sensitive", "plan.role"),
                }
            ],
            "monitoring_dates": ["2026-06-01"],
            "services": ["outreach"],
        },
    )
    layered = meeting_body(
        [{**item(case_id, "plan", 1), "note": m.plant("meeting", "meeting.note")}],
        title=m.plant("meeting", "meeting.title"),
        held_on="2026-05-10",
        participants=[
            participant(COORDINATOR_AGENCY, "coordinator"),
            participant(CITY_AGENCY, "municipality"),
            participant(CENTER_AGENCY, "community_general_support_center"),
        ],
    )
    layered["resource_shortages"] = [m.plant("community", "meeting.shortage")]
    layered_id = ok(post(client, COORDINATOR, "/meetings", layered), 201)["meeting_id"]
    command(COORDINATOR, "plan-approval", {"meeting_id": layered_id})
    command(
        CITY,
        "support-decisions",
        {
            "granted": True,
            "reason": m.plant("sensitive", "decision.reason"),
            "decided_on": "2026-05-12",
        },
    )
    command(
        COORDINATOR,
        "contact-attempts",
        {
            "kind": "home_visit",
            "on": "2026-05-20",
            "reached": False,
            "note": m.plant("sensitive", "contact.note"),
        },
    )
    command(
        COORDINATOR,
        "monitoring",
        {
            "on": "2026-06-01",
            "summary": m.plant("sensitive", "monitoring.summary"),
            "contact_made": True,
        },
    )
    closing = meeting_body([item(case_id, "closure", 1)], held_on="2026-07-01")
    closing_id = ok(post(client, COORDINATOR, "/meetings", closing), 201)["meeting_id"]
    command(
        COORDINATOR,
        "closure",
        {
            "meeting_id": closing_id,
            "lead_agency_id": CENTER_AGENCY,
            "follow_up": {"needed": True, "method": m.plant("sensitive", "closure.method")},
            "goal_attainment": m.plant("sensitive", "closure.goal_attainment"),
        },
    )
    command(
        COORDINATOR,
        "resumption",
        {"reason": m.plant("sensitive", "resumption.reason"), "resumed_on": "2026-07-20"},
    )
    return Life(case_id, [council_id, layered_id, closing_id], m)


def read_routes(life: Life) -> list[tuple[str, dict[str, str]]]:
    """Every read route of the case and of the municipality, with its query."""
    case = f"/cases/{life.case_id}"
    return [
        ("/cases", {}),
        (case, {}),
        (case, {"as_of_version": "3"}),
        (case, {"as_of_version": "12"}),
        (f"{case}/events", {}),
        (f"{case}/history", {}),
        (f"{case}/engagements", {}),
        (f"{case}/engagements/outreach", {}),
        (f"{case}/engagements/outreach/events", {}),
        (f"{case}/verify", {}),
        ("/engagements", {}),
        ("/meetings", {}),
        *((f"/meetings/{meeting_id}", {}) for meeting_id in life.meetings),
        ("/worklists", {}),
        ("/worklists/mine", {}),
        ("/events", {"limit": "200"}),
        ("/access-log", {}),
        ("/reports/state", {"from": "2026-01-01", "to": "2026-12-31"}),
        ("/community-issues", {}),
        ("/webhooks", {}),
    ]


def read_everything(client: TestClient, key: str, life: Life) -> dict[str, str]:
    """Return each route's answer body (errors included) read with `key`."""
    bodies = {}
    for route, query in read_routes(life):
        response = client.get(route, params=query, headers=as_(key))
        assert response.status_code < 500, (route, response.text)
        bodies[f"{route}?{query}"] = response.text
    return bodies


def leaks(markers: set[str], bodies: dict[str, str]) -> dict[str, set[str]]:
    """Return, per route, the markers its answer shows."""
    return {route: hits for route, body in bodies.items() if (hits := found(markers, body))}


@pytest.fixture
def outreach_key(make_api_key: Callable[[str, Role], str]) -> str:
    """An outreach provider of demo-city."""
    return make_api_key("demo-city", Role.outreach_provider)


def test_issue_11_marker_sweep_every_route_every_role(
    client: TestClient,
    receiver: Receiver,
    outreach_key: str,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """R-CON-1, R-CON-2, R-CON-4, R-CON-5, R-OUT-3, R-ORG-2: a marker shows only on a basis."""
    caplog.set_level(logging.DEBUG)
    subscribed = ok(
        client.post(
            "/webhooks",
            json={"url": receiver.url},
            headers={**as_(CITY), "Idempotency-Key": "sweep-subscription"},
        ),
        201,
    )
    assert subscribed["id"]
    life = drive(client)
    m = life.markers

    # Readers without any basis: no consent covers them, they sat on no meeting of the case.
    # The shortage is the community register's text (R-RES-1): there only.
    # An outreach provider no consent names and no meeting seated is one of them.
    for key in (AUDITOR, SELF_RELIANCE, outreach_key):
        seen = leaks(m.every, read_everything(client, key, life))
        assert seen == {"/community-issues?{}": m.community}, key

    # The feed carries workflow facts only, whoever reads it.
    for key in (CITY, COORDINATOR, AUDITOR):
        feed = client.get("/events", params={"limit": 200}, headers=as_(key)).text
        assert found(m.every, feed) == set(), key

    # The coordinator runs the case: its text and the person (her consent covers it), not the
    # son (no consent of his own, R-CON-5), nor the support council's secret and record
    # (R-CON-2, R-ORG-2).
    coordinator = read_everything(client, COORDINATOR, life)
    shown = set().union(*leaks(m.every, coordinator).values())
    son = {v for v in m.identity if v.startswith(f"{RUN}:member.")}
    assert (m.identity - son) | m.sensitive <= shown
    assert shown & son == set()
    assert found(m.council | {marker("council.title"), marker("council.note")}, str(shown)) == set()

    # The municipality hosts every council and reads everything; the center sat on the council
    # and is covered by the consent.
    for key in (CITY, CENTER):
        everything = read_everything(client, key, life)
        seen = set().union(*leaks(m.every, everything).values())
        assert m.every <= seen, (key, everything[f"/cases/{life.case_id}?{{}}"])

    # Webhook bodies, as a loopback receiver gets them.
    drain(create_engine(database_url), datetime.now(UTC))
    delivered = receiver.delivered()
    assert {d["subject"] for d in delivered} >= {life.case_id, *life.meetings}
    assert found(m.every, json.dumps(delivered, ensure_ascii=False)) == set()

    # Nowhere else: logs, the webhook outbox, stored idempotency answers, the database.
    assert found(m.every, caplog.text) == set()
    assert found(m.every, database_text(database_url)) == set()
    assert found(m.every, raw_database_files(database_url)) == set()

    # Erasure covers the text: the person and the household member (R-CON-4; README).
    for person_id in ("person", "member-1"):
        ok(
            post(
                client,
                CITY,
                f"/cases/{life.case_id}/erasures",
                {"person_id": person_id, "reason": "保存期間満了"},
            )
        )
    personal = m.every - m.meeting - m.community  # a meeting's own text is not a person's
    for key in (CITY, COORDINATOR, CENTER, AUDITOR, outreach_key):
        assert leaks(personal, read_everything(client, key, life)) == {}, key
    verified = ok(client.get(f"/cases/{life.case_id}/verify", headers=as_(CITY)))
    assert verified["ok"] is True


def database_text(database_url: str) -> str:
    """Return every row of every table as text (what a table dump would show)."""
    engine = create_engine(database_url)
    parts = []
    with engine.connect() as conn:
        for table in inspect(engine).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        parts.append(bytes(value).decode("utf-8", "replace"))
                    else:
                        parts.append(json.dumps(value, ensure_ascii=False, default=str))
                        parts.append(str(value))
    engine.dispose()
    return "\n".join(parts)


def raw_database_files(database_url: str) -> str:
    """Return the SQLite file and its -wal as text (nothing for PostgreSQL)."""
    if not database_url.startswith("sqlite"):
        return ""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    path = Path(database_url.split("///", 1)[1])
    files = [path, path.with_name(path.name + "-wal")]
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in files if p.exists())


def test_issue_11_erasure_leaves_no_wrapped_key_in_the_sqlite_files(
    client: TestClient, database_url: str
) -> None:
    """R-CON-4, README "Erasure": once a person's key is destroyed, its wrapped form is in
    neither the SQLite file nor its -wal (overwritten, the log checkpointed and truncated)."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL keeps dead rows until VACUUM (README, Erasure)")
    body = {
        "referral": {
            "route": "direct_consultation",
            "reason": "家計と就労",
            "received_on": "2026-04-01",
        },
        "person": {"name": "消去テスト"},
        "household": [],
    }
    case_id = ok(post(client, COORDINATOR, "/cases", body), 201)["case_id"]
    engine = create_engine(database_url)
    with engine.connect() as conn:
        wrapped = conn.execute(
            text("SELECT wrapped_key FROM data_keys WHERE case_id = :c AND person_id = 'person'"),
            {"c": case_id},
        ).scalar_one()
    engine.dispose()
    assert bytes(wrapped) in raw_database_bytes(database_url)
    ok(
        post(
            client,
            CITY,
            f"/cases/{case_id}/erasures",
            {"person_id": "person", "reason": "本人からの請求"},
        )
    )
    assert bytes(wrapped) not in raw_database_bytes(database_url)


def raw_database_bytes(database_url: str) -> bytes:
    """Return the bytes of the SQLite file and its -wal."""
    path = Path(database_url.split("///", 1)[1])
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.exists())


_ = receiver  # the loopback receiver's fixture, used by name
