"""Event versioning: a CaseReferred stored before workflows were versioned still loads.

CaseReferred is at class_version 2: v2 added `workflow_version`. The v1 rows below are written
by hand, as the code of that time stored them (no `class_version` key, no `workflow_version`,
and a person not yet sealed — a made-up name), so the test does not depend on the code that
writes events today.
"""

from __future__ import annotations

import json
import uuid

from sqlalchemy import insert, select

from service.application.kasane import Kasane
from service.domain.case import SupportCase
from service.domain.values import Actor, Role
from service.integration.index import GENESIS, event_hash
from service.persistence.schema import EVENTS_TABLE, event_store_metadata
from service.persistence.tables import event_index
from service.views_history import timeline

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
CASE_TOPIC = "service.domain.case:SupportCase"

V1_REFERRAL = """{
 "timestamp": {"_type_": "datetime_iso", "_data_": "2025-11-04T01:30:00+00:00"},
 "originator_topic": "service.domain.case:SupportCase",
 "municipality_id": "demo-city",
 "actor": {"municipality_id": "demo-city", "agency_id": "demo-coordinator", "role": "coordinator"},
 "state": "referred",
 "referral": {"reason": "家計と介護の複合課題", "referrer_kind": "self_reliance_consultation"},
 "person": {"name": "架空 太郎", "person_id": "person"},
 "household": []
}"""
V1_CONSENT = """{
 "timestamp": {"_type_": "datetime_iso", "_data_": "2025-11-05T02:00:00+00:00"},
 "actor": {"municipality_id": "demo-city", "agency_id": "demo-coordinator", "role": "coordinator"},
 "state": "referred",
 "consent": {"person_id": "person", "application_for_use": true, "agency_ids": ["center"],
             "consent_id": "consent-1"}
}"""


def _insert_v1_case(app: Kasane) -> uuid.UUID:
    case_id = uuid.uuid4()
    rows = [
        (1, f"{CASE_TOPIC}.CaseReferred", V1_REFERRAL),
        (2, f"{CASE_TOPIC}.ConsentGiven", V1_CONSENT),
    ]
    events = event_store_metadata().tables[EVENTS_TABLE]  # the UUID column's type fits the engine
    previous = GENESIS
    with app.engine.begin() as conn:
        for version, topic, state in rows:
            notification_id = conn.execute(
                insert(events).values(
                    originator_id=case_id,
                    originator_version=version,
                    topic=topic,
                    state=state.encode(),
                )
            ).inserted_primary_key[0]
            # the event index was written with the events already (it names the tenant)
            digest = event_hash(previous, str(case_id), version, topic, state.encode())
            conn.execute(
                insert(event_index).values(
                    notification_id=notification_id,
                    originator_id=str(case_id),
                    originator_version=version,
                    municipality_id="demo-city",
                    event_type=topic.rsplit(".", 1)[1],
                    hash=digest,
                    previous_hash=previous,
                )
            )
            previous = digest
    return case_id


def _stored_state(app: Kasane, case_id: uuid.UUID, version: int) -> dict[str, object]:
    events = event_store_metadata().tables[EVENTS_TABLE]
    with app.engine.connect() as conn:
        state = conn.execute(
            select(events.c.state).where(
                events.c.originator_id == case_id, events.c.originator_version == version
            )
        ).scalar_one()
    loaded: dict[str, object] = json.loads(state)
    return loaded


def test_a_v1_referral_is_upcast_to_workflow_version_1(database_url: str) -> None:
    """The upcaster fills `workflow_version`; the old case answers its commands as before."""
    app = Kasane(database_url)
    case_id = _insert_v1_case(app)
    assert "workflow_version" not in _stored_state(app, case_id, 1)

    referred = app.repository.get(case_id, version=1)
    assert isinstance(referred, SupportCase)
    assert referred.workflow_version == 1
    assert referred.person["name"] == "架空 太郎"  # never sealed: read as it was stored

    case = app.load_case(COORDINATOR, str(case_id))
    assert (case.version, case.state, case.workflow_version) == (2, "referred", 1)
    assert case.has_application_for_use
    assert "start_assessment" in case.allowed_commands

    result = app.start_assessment(COORDINATOR, str(case_id), 2)
    assert (result.version, result.state) == (3, "assessment")
    assert [row.type for row in timeline(app, str(case_id))] == [
        "CaseReferred",
        "ConsentGiven",
        "AssessmentStarted",
    ]
    # the old rows stay as they were written: upcasting happens on read only
    assert "class_version" not in _stored_state(app, case_id, 1)


def test_new_referrals_are_stored_as_class_version_2(database_url: str) -> None:
    """A referral written today carries class_version 2 and its workflow version."""
    app = Kasane(database_url)
    referral = {"reason": "x", "referrer_kind": "self_reliance_consultation"}
    result = app.refer_case(COORDINATOR, referral, {"name": "架空 花子"}, [])
    stored = _stored_state(app, uuid.UUID(result.case_id), 1)
    assert stored["class_version"] == 2
    assert stored["workflow_version"] == 1
    assert SupportCase.CaseReferred.class_version == 2


def test_the_upcaster_keeps_a_workflow_version_already_there() -> None:
    """Upcasting only fills what v1 lacked."""
    state: dict[str, object] = {"workflow_version": 3}
    SupportCase.CaseReferred.upcast_v1_v2(state)
    assert state == {"workflow_version": 3}
    empty: dict[str, object] = {}
    SupportCase.CaseReferred.upcast_v1_v2(empty)
    assert empty == {"workflow_version": 1}
