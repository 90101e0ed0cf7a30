"""Personal data is encrypted at rest with per-person keys; erasure destroys the key."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from service.application.kasane import Kasane
from service.domain.errors import RoleNotPermitted
from service.domain.values import Actor, Role
from service.persistence.tables import data_keys
from tests.databases import database_bytes

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
MUNICIPALITY = Actor("demo-city", "demo-city-welfare", Role.municipality)
PLANTED = {
    "name": "山田ハナ植付",
    "address": "Planted-cho 1-2-3 Kasane-shi",
    "narrative": "PLANTED-NARRATIVE 長男は二十年ひきこもり",
    "member": "山田タロウ植付",
}


def _forms(text: str) -> list[bytes]:
    """The byte forms a string could take in the file: UTF-8 and JSON-escaped."""
    return [text.encode(), json.dumps(text).strip('"').encode()]


def _database_bytes(database_url: str) -> bytes:
    """The SQLite file's bytes, or every stored row on PostgreSQL (tests/databases.py)."""
    return database_bytes(database_url)


def _yamada(app: Kasane) -> str:
    referral = {"reason": "8050", "referrer_kind": "community_general_support_center"}
    person = {"name": PLANTED["name"], "address": PLANTED["address"]}
    household = [{"name": PLANTED["member"], "age": 53, "relationship": "長男"}]
    case_id = app.refer_case(COORDINATOR, referral, person, household).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": []}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    assessment = {
        "summary": PLANTED["narrative"],
        "domains": [{"domain": "family", "items": [], "narrative": PLANTED["narrative"]}],
    }
    app.complete_assessment(COORDINATOR, case_id, None, assessment)
    return case_id


def _assert_no_plaintext(database_url: str) -> None:
    data = _database_bytes(database_url)
    assert data, "the database file was not found"
    for text in PLANTED.values():
        for form in _forms(text):
            assert form not in data, f"plaintext {text!r} found in the database file"


def test_the_database_file_holds_no_plaintext_personal_data(database_url: str) -> None:
    """Name, address, household member and narrative never reach the file unencrypted."""
    app = Kasane(database_url)
    case_id = _yamada(app)
    case = app.load_case(COORDINATOR, case_id)
    assert case.person["name"] == PLANTED["name"]  # the owner of the key reads it back
    assert case.assessments[0]["domains"][0]["narrative"] == PLANTED["narrative"]
    _assert_no_plaintext(database_url)


def test_erasure_keeps_the_history_and_erases_the_person(database_url: str) -> None:
    """After erasure the case replays (workflow facts intact); the person's fields read erased."""
    app = Kasane(database_url)
    case_id = _yamada(app)
    assert app.erase_person(MUNICIPALITY, case_id, "person", "retention period ended")
    assert not app.erase_person(MUNICIPALITY, case_id, "person", "again")

    restarted = Kasane(database_url)
    case = restarted.load_case(COORDINATOR, case_id)
    assert case.state == "planning" and case.version == 4
    assert case.person == {"person_id": "person", "erased": True}
    assert case.household[0]["name"] == PLANTED["member"]  # Taro's key is his own (R-CON-5)
    assert case.assessments[0]["summary"] == {"person_id": "person", "erased": True}
    with restarted.engine.connect() as conn:
        row = conn.execute(
            select(data_keys).where(
                data_keys.c.case_id == case_id, data_keys.c.person_id == "person"
            )
        ).one()
    assert row.wrapped_key is None and row.erased_by == "demo-city-welfare"
    assert restarted.rebuild_read_models() > 0  # rebuilding from zero still works
    _assert_no_plaintext(database_url)


def test_a_sealed_field_moved_to_another_case_does_not_open(database_url: str) -> None:
    """The ciphertext is bound to its case and person (associated data)."""
    app = Kasane(database_url)
    first, second = _yamada(app), _yamada(app)
    sealed = app.keys.seal(first, "person", {"name": "x"}, "read-model")
    with pytest.raises(ValueError, match="does not belong here"):
        app.keys.unseal(second, sealed, "read-model")


def test_only_the_municipality_erases(database_url: str) -> None:
    """Erasure is the municipality's decision; a coordinator is refused."""
    app = Kasane(database_url)
    case_id = _yamada(app)
    with pytest.raises(RoleNotPermitted):
        app.erase_person(COORDINATOR, case_id, "person", "x")
    assert app.load_case(COORDINATOR, case_id).person["name"] == PLANTED["name"]


def test_kasane_erase_command(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`kasane erase` destroys the key as the municipality's operator."""
    from service.cli import main
    from service.settings import get_settings

    app = Kasane(database_url)
    case_id = _yamada(app)
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        assert (
            main(["erase", case_id, "member-1", "--municipality", "demo-city", "--reason", "x"])
            == 0
        )
    finally:
        get_settings.cache_clear()
    assert app.load_case(COORDINATOR, case_id).household[0] == {
        "person_id": "member-1",
        "erased": True,
    }
