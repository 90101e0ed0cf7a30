"""R-CON-2, R-ORG-2, R-OUT-3 (issue 11): a support council's secret and what was recorded on the
council track hold on every read path — case detail, events, history, as_of, meetings and feed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    CITY_AGENCY,
    COORDINATOR,
    HOARDING_COUPLE,
    as_,
    case,
    consent,
    events,
    item,
    meeting_body,
    ok,
    participant,
    post,
    refer,
)

Json = dict[str, Any]
REASON = "本人が一切の接触を拒否、近隣から通報"
EARLY = "ため込みが進み火災の危険"


@pytest.fixture
def council_case(client: TestClient) -> tuple[str, str]:
    """A case on the council track, taken by a council of the municipality and the center,
    with outreach started early on it; return (case id, council id)."""
    case_id = refer(client, HOARDING_COUPLE)["case_id"]
    ok(post(client, CITY, f"/cases/{case_id}/council-referral", {"reason": REASON}))
    council = meeting_body(
        [{**item(case_id, "none", None, "noted"), "note": "夜間に物音"}],
        kind="support_council",
        title="支援会議（守秘義務あり）",
        held_on="2026-04-20",
        participants=[
            participant(CITY_AGENCY, "municipality"),
            participant(CENTER_AGENCY, "community_general_support_center"),
        ],
    )
    council_id = ok(post(client, CITY, "/meetings", council), 201)["meeting_id"]
    early = {"service": "outreach", "reason": EARLY, "started_on": "2026-04-21"}
    ok(post(client, COORDINATOR, f"/cases/{case_id}/early-starts", early))
    return case_id, council_id


def test_R_CON_2_case_detail_hides_the_council_from_a_non_member(
    client: TestClient, council_case: tuple[str, str]
) -> None:
    """R-CON-2, R-ORG-2: the coordinator sat on no council: it sees neither the council's
    meeting nor why the case went there; the municipality and the member center see both."""
    case_id, council_id = council_case
    outsider = case(client, case_id, COORDINATOR)
    assert [m["meeting_id"] for m in outsider["meetings"]] == []
    assert outsider["council_referral"] == {
        "person_id": "person",
        "redacted": True,
        "redaction_reason": "council_secrecy",
    }
    for key in (CITY, CENTER):
        member = case(client, case_id, key)
        assert [m["meeting_id"] for m in member["meetings"]] == [council_id]
        assert member["council_referral"] == {"reason": REASON}
    audited = case(client, case_id, AUDITOR)  # the council's facts, not its text
    assert [m["meeting_id"] for m in audited["meetings"]] == [council_id]
    assert audited["council_referral"]["redacted"] is True


def test_R_CON_2_events_history_and_as_of_keep_the_reason_from_a_non_member(
    client: TestClient, council_case: tuple[str, str]
) -> None:
    """R-CON-2: the same on /events, /history and ?as_of_version=."""
    case_id, _ = council_case
    for route in ("events", "history"):
        answer = ok(client.get(f"/cases/{case_id}/{route}", headers=as_(COORDINATOR)))
        referred = next(e for e in answer if e["type"] == "ReferredToCouncil")
        assert referred["payload"]["reason"]["redaction_reason"] == "council_secrecy"
        shown = ok(client.get(f"/cases/{case_id}/{route}", headers=as_(CENTER)))
        assert next(e for e in shown if e["type"] == "ReferredToCouncil")["payload"]["reason"] == (
            REASON
        )
    past = ok(
        client.get(f"/cases/{case_id}", params={"as_of_version": 2}, headers=as_(COORDINATOR))
    )
    assert past["council_referral"]["redaction_reason"] == "council_secrecy"
    assert REASON not in str(past)


def test_R_CON_2_meeting_and_feed_say_only_that_a_council_was_held(
    client: TestClient, council_case: tuple[str, str]
) -> None:
    """R-CON-2, R-ORG-2: GET /meetings/{id} is restricted for a non-member; the feed's record of
    a council carries neither participants nor agenda, and no text at all."""
    case_id, council_id = council_case
    restricted = ok(client.get(f"/meetings/{council_id}", headers=as_(COORDINATOR)))
    assert restricted["restricted"] is True
    assert restricted["agenda"] == [] and restricted["participants"] == []
    member = ok(client.get(f"/meetings/{council_id}", headers=as_(CENTER)))
    assert member["agenda"][0]["note"] == "夜間に物音"
    assert member["title"] == "支援会議（守秘義務あり）"
    audited = ok(client.get(f"/meetings/{council_id}", headers=as_(AUDITOR)))
    assert audited["agenda"][0]["case_id"] == case_id  # that the council took the case
    assert audited["agenda"][0]["note"]["redaction_reason"] == "meeting_not_attended"
    feed = ok(client.get("/events", headers=as_(COORDINATOR)))["items"]
    recorded = next(e for e in feed if e["type"] == "jp.kasane.MeetingRecorded")
    assert recorded["data"]["kind"] == "support_council"
    assert not {"participants", "agenda", "title", "resource_shortages"} & set(recorded["data"])
    assert "夜間に物音" not in str(feed) and REASON not in str(feed)


def test_R_OUT_3_council_track_records_until_consent_covers_the_reader(
    client: TestClient, council_case: tuple[str, str]
) -> None:
    """R-OUT-3: the early start made on the council track is seen by the municipality and the
    council's members; the coordinator sees it once the person's consent covers it."""
    case_id, _ = council_case
    assert case(client, case_id, COORDINATOR)["early_starts"] == []
    history = events(client, case_id, COORDINATOR)
    early = next(e for e in history if e["type"] == "EarlyStartRecorded")
    assert early["payload"] == {"state": "council_track", "restricted": True}
    feed = ok(client.get("/events", headers=as_(CITY)))["items"]
    published = next(e for e in feed if e["type"] == "jp.kasane.EarlyStartRecorded")
    assert set(published["data"]) <= {"actor", "state", "case_id"}
    for key in (CITY, CENTER):
        assert case(client, case_id, key)["early_starts"][0]["reason"] == EARLY

    consent(client, case_id, [CENTER_AGENCY])
    assert case(client, case_id, COORDINATOR)["early_starts"][0]["reason"] == EARLY
    history = events(client, case_id, COORDINATOR)
    early = next(e for e in history if e["type"] == "EarlyStartRecorded")
    assert early["payload"]["start"]["reason"] == EARLY
