"""Tenant first: another municipality's id answers 404 before any of its events is read (R-ORG-2).

The tenant of a case, meeting or register entry is read from the event index; only an id of the
caller's own municipality goes on to replay its aggregate. So a foreign id answers exactly like a
random one — the same body — and as fast, without a timing oracle on the size of the case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import event
from sqlalchemy.engine import Engine

from service.domain.values import Role
from service.persistence.schema import EVENTS_TABLE, SNAPSHOTS_TABLE
from tests.e2e.support import (
    as_,
    case_in_support,
    contact_attempt,
    engagement_path,
    ok,
    post,
    problem,
    start_engagement,
)

MakeKey = Callable[[str, Role], str]


@contextmanager
def event_reads(engine: Engine) -> Iterator[list[str]]:
    """Collect every SQL statement that touches the event or snapshot table meanwhile."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if EVENTS_TABLE in statement or SNAPSHOTS_TABLE in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _kasane(client: TestClient) -> Any:
    return client.app.state.kasane  # type: ignore[attr-defined]


def _same_404(foreign: Response, random: Response, foreign_id: str, random_id: str) -> None:
    """Assert both answer 404 not_found with the same body, but for the id asked about."""
    problem(foreign, 404, "not_found")
    problem(random, 404, "not_found")
    assert foreign.text.replace(foreign_id, "<id>") == random.text.replace(random_id, "<id>")


READS = [
    "/cases/{id}",
    "/cases/{id}/events",
    "/cases/{id}/history",
    "/cases/{id}?as_of_version=1",
    "/cases/{id}?as_of=2026-01-01T00:00:00%2B09:00",
    "/cases/{id}/engagements/outreach/events",
]
WRITES = [
    ("/cases/{id}/monitoring", {"on": "2026-06-01", "summary": "継続", "contact_made": True}),
    ("/cases/{id}/contact-attempts", {"kind": "phone", "on": "2026-06-02", "reached": True}),
    (
        "/cases/{id}/engagements/outreach/activities",
        {"kind": "home_visit", "on": "2026-06-03", "outcome": "met", "contact_made": True},
    ),
]


@pytest.fixture
def foreign_case(client: TestClient) -> str:
    """A case of demo-city in support, with contacts and its outreach started."""
    case_id = case_in_support(client, services=["outreach"])
    for on in ("2026-06-01", "2026-06-08", "2026-06-15"):
        contact_attempt(client, case_id, "home_visit", False, on=on)
    start_engagement(client, "dev-coordinator", case_id, "outreach", basis="support_decision")
    return case_id


@pytest.mark.parametrize("path", READS)
def test_R_ORG_2_a_foreign_case_is_read_as_missing_before_its_events_are(
    client: TestClient, make_api_key: MakeKey, foreign_case: str, path: str
) -> None:
    """R-ORG-2, R-CON-4: other-town reading demo-city's case gets the 404 of a random id, and
    neither its events nor its snapshots are read to answer it."""
    other = make_api_key("other-town", Role.coordinator)
    random_id = str(uuid.uuid4())
    with event_reads(_kasane(client).engine) as reads:
        foreign = client.get(path.format(id=foreign_case), headers=as_(other))
    assert reads == []
    random = client.get(path.format(id=random_id), headers=as_(other))
    _same_404(foreign, random, foreign_case, random_id)


@pytest.mark.parametrize(("path", "body"), WRITES)
def test_R_ORG_2_a_write_to_a_foreign_case_is_refused_before_its_events_are_read(
    client: TestClient, make_api_key: MakeKey, foreign_case: str, path: str, body: dict[str, Any]
) -> None:
    """R-ORG-2: other-town writing to demo-city's case (or its outreach) gets the 404 of a
    random id; nothing of the case is replayed, and the case is unchanged."""
    other = make_api_key("other-town", Role.coordinator)
    before = ok(client.get(f"/cases/{foreign_case}", headers=as_("dev-coordinator")))["version"]
    random_id = str(uuid.uuid4())
    kasane = _kasane(client)
    with event_reads(kasane.engine) as reads:
        foreign = post(client, other, path.format(id=foreign_case), body)
    assert reads == []
    random = post(client, other, path.format(id=random_id), body)
    _same_404(foreign, random, foreign_case, random_id)
    after = ok(client.get(f"/cases/{foreign_case}", headers=as_("dev-coordinator")))["version"]
    assert after == before


def test_R_ORG_2_the_aggregate_is_never_loaded_for_a_foreign_id(
    client: TestClient,
    make_api_key: MakeKey,
    foreign_case: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """R-ORG-2: the repository is not asked for a foreign case or meeting at all."""
    kasane = _kasane(client)
    meeting_id = ok(client.get(f"/cases/{foreign_case}", headers=as_("dev-coordinator")))[
        "meetings"
    ][0]["meeting_id"]
    loaded: list[Any] = []
    get = kasane.repository.get
    monkeypatch.setattr(kasane.repository, "get", lambda *a, **k: loaded.append(a) or get(*a, **k))
    other = make_api_key("other-town", Role.coordinator)
    problem(client.get(f"/cases/{foreign_case}/events", headers=as_(other)), 404, "not_found")
    path = f"/cases/{foreign_case}/plan-approval"
    problem(post(client, other, path, {"meeting_id": meeting_id}), 404, "not_found")
    path = engagement_path(foreign_case, "outreach", "plans")
    problem(post(client, other, path, {"goals": ["g"]}), 404, "not_found")
    assert loaded == []

    # the instrument does see a load of the caller's own case
    ok(client.get(f"/cases/{foreign_case}/events", headers=as_("dev-coordinator")))
    assert loaded
