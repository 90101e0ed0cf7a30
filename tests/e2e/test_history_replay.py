"""Auditing: the history with feed positions, the case at any past point, and `kasane replay`.

A long case (22 versions: consent, plan, meeting, decision, monitoring, re-plan, closure,
resumption) is driven over HTTP; the read model is captured after every command, and every past
version replayed from the events must answer what the read model answered then.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from service import cli
from service.domain.labels import EVENT_LABELS
from service.persistence.tables import access_log, event_index
from service.settings import get_settings
from tests.e2e.support import (
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    COORDINATOR_AGENCY,
    OUTREACH_AGENCY,
    PARTICIPATION_AGENCY,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    YAMADA,
    as_,
    case,
    events,
    item,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
)

Json = dict[str, Any]

ROLES = [
    (COORDINATOR_AGENCY, "coordinator", "全体調整"),
    (CENTER_AGENCY, "community_general_support_center", "見守り"),
    (OUTREACH_AGENCY, "outreach_provider", "訪問"),
    # named in the plan, so it records monitoring; no consent covers it, so it reads redacted
    (SELF_RELIANCE_AGENCY, "self_reliance_consultation", "家計相談"),
]

# What the point-in-time view legitimately answers differently from the read model of then:
# - `as_of`: only the past view carries it (which version was rebuilt, the latest version).
# - `person`, `household`: personal data follows the consent in force *now* (R-CON-3, R-CON-4).
#   ハナ consents at version 3 and タロウ (member-1) at version 12, so the coordinator sees
#   their data at every past version, where the read model of then redacted it. The values
#   shown are the replayed ones; where the read model of then showed them, they must be equal
#   (checked in `_same_personal_data`).
LEGITIMATELY_DIFFERENT = {"as_of", "person", "household"}


class LongCase:
    """Drives one case over HTTP and captures its read model after every command."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        referred = ok(post(client, COORDINATOR, "/cases", YAMADA), 201)
        self.case_id: str = referred["case_id"]
        self.captured: dict[int, Json] = {1: case(client, self.case_id)}

    def __call__(self, key: str, command: str, body: Json) -> Json:
        answer = ok(post(self.client, key, f"/cases/{self.case_id}/{command}", body))
        detail = case(self.client, self.case_id)
        assert detail["version"] == answer["version"] == max(self.captured) + 1
        self.captured[detail["version"]] = detail
        return answer

    def meeting(self, timing: str, plan_version: int, held_on: str) -> str:
        body = meeting_body([item(self.case_id, timing, plan_version)], held_on=held_on)
        meeting_id: str = ok(post(self.client, COORDINATOR, "/meetings", body), 201)["meeting_id"]
        return meeting_id


def _consent(person_id: str, application: bool, agency_ids: list[str], on: str) -> Json:
    return {
        "person_id": person_id,
        "application_for_use": application,
        "agency_ids": agency_ids,
        "given_by": "person",
        "given_on": on,
    }


@pytest.fixture
def long_case(client: TestClient) -> LongCase:
    """山田ハナ's case through 22 versions, ending in support again after a resumption."""
    c = LongCase(client)
    c(COORDINATOR, "explanations", {"kind": "explanation", "on": "2026-04-02"})
    c(COORDINATOR, "consents", _consent("person", True, [CENTER_AGENCY], "2026-04-03"))
    c(COORDINATOR, "assessment-start", {})
    c(COORDINATOR, "contact-attempts", {"kind": "home_visit", "on": "2026-04-10", "reached": True})
    c(
        COORDINATOR,
        "assessments",
        {
            "domains": [{"domain": "家計", "items": ["滞納"], "narrative": "公共料金の未払い"}],
            "summary": "高齢の母と長期ひきこもりの長男の世帯",
        },
    )
    c(COORDINATOR, "plans", plan_body(ROLES, ["outreach"]))
    meeting_a = c.meeting("plan", 1, "2026-05-10")
    c(COORDINATOR, "plan-approval", {"meeting_id": meeting_a})
    c(CITY, "support-decisions", {"granted": True, "decided_on": "2026-05-12"})
    c(
        SELF_RELIANCE,
        "monitoring",
        {"on": "2026-06-01", "summary": "分割納付", "contact_made": True},
    )
    c(COORDINATOR, "monitoring", {"on": "2026-07-01", "summary": "訪問継続", "contact_made": True})
    c(COORDINATOR, "consents", _consent("member-1", False, [OUTREACH_AGENCY], "2026-10-01"))
    c(COORDINATOR, "replan", {"reason": "タロウさんが同意、参加支援を加える"})
    roles_v2 = [*ROLES, (PARTICIPATION_AGENCY, "participation_provider", "農作業体験")]
    c(COORDINATOR, "plans", plan_body(roles_v2, ["outreach", "participation"]))
    meeting_b = c.meeting("replan", 2, "2026-10-15")
    c(COORDINATOR, "replan-approval", {"meeting_id": meeting_b})
    c(CITY, "support-decisions", {"granted": True, "decided_on": "2026-10-20"})
    c(
        COORDINATOR,
        "monitoring",
        {"on": "2026-12-01", "summary": "週2回農園へ", "contact_made": True},
    )
    meeting_c = c.meeting("closure", 2, "2027-03-10")
    closure = {
        "meeting_id": meeting_c,
        "lead_agency_id": CENTER_AGENCY,
        "follow_up": {"needed": False},
    }
    c(COORDINATOR, "closure", closure)
    c(COORDINATOR, "resumption", {"reason": "ハナさんの入院", "resumed_on": "2027-06-01"})
    c(COORDINATOR, "plans", plan_body(ROLES, ["outreach"], ["独居となったタロウさんの生活"]))
    meeting_d = c.meeting("replan", 3, "2027-06-10")
    c(COORDINATOR, "replan-approval", {"meeting_id": meeting_d})
    c(CITY, "support-decisions", {"granted": True, "decided_on": "2027-06-12"})
    assert max(c.captured) == 22
    assert c.captured[22]["state"] == "in_support"
    return c


def _as_of(client: TestClient, case_id: str, key: str = COORDINATOR, **params: Any) -> Json:
    return ok(client.get(f"/cases/{case_id}", params=params, headers=as_(key)))


def _comparable(detail: Json) -> Json:
    return {k: v for k, v in detail.items() if k not in LEGITIMATELY_DIFFERENT}


def _shown_now(past: Any, then: Any) -> Any:
    """Return `then` with each field it redacted (no consent then) replaced by the replay's
    value, which the consent in force now shows: the difference is deliberate. A field shown
    then is compared as it is."""
    if isinstance(then, dict) and then.get("redacted") is True:
        assert not (isinstance(past, dict) and past.get("redacted")), past
        return past
    if isinstance(then, dict) and isinstance(past, dict):
        return {k: _shown_now(past.get(k), v) for k, v in then.items()}
    if isinstance(then, list) and isinstance(past, list) and len(then) == len(past):
        return [_shown_now(p, t) for p, t in zip(past, then, strict=True)]
    return then


def _same_personal_data(past: Json, then: Json) -> None:
    """Where the read model of then showed a person's data, the replay shows the same."""
    for shown, replayed in zip(
        [then["person"], *then["household"]], [past["person"], *past["household"]], strict=True
    ):
        assert replayed.get("redacted") is None
        if not shown.get("redacted"):
            assert replayed == shown


def test_every_past_version_replays_to_the_read_model_of_then(
    client: TestClient, long_case: LongCase
) -> None:
    """R-PLN-3: ?as_of_version=N, rebuilt from the events, equals the detail read at version N
    (state, plans, consents, allowed commands, lead agency, closures, meetings, ...); the
    personal data of the main person matches too, since her consent covered the reader then."""
    latest = max(long_case.captured)
    states = set()
    for version, then in long_case.captured.items():
        past = _as_of(client, long_case.case_id, as_of_version=version)
        then_now = _shown_now(_comparable(past), _comparable(then))
        assert _comparable(past) == then_now, f"version {version}"
        _same_personal_data(past, then)
        assert past["as_of"]["version"] == version
        assert past["as_of"]["latest_version"] == latest
        assert past["person"]["name"] == "山田ハナ"
        assert past["household"][0]["name"] == "山田タロウ"  # consent now decides
        states.add(past["state"])
    assert {"referred", "planning", "awaiting_decision", "in_support", "closed"} <= states
    assert {"replanning", "assessment"} <= states
    # the read model of then redacted them before their consent; the difference is deliberate
    assert long_case.captured[2]["person"]["redacted"] is True
    assert long_case.captured[11]["household"][0]["redacted"] is True


def test_as_of_a_time_between_versions_answers_the_earlier_version(
    client: TestClient, long_case: LongCase
) -> None:
    """?as_of=T answers the last version recorded at or before T; before the referral, 404."""
    history = events(client, long_case.case_id)
    times = [datetime.fromisoformat(e["recorded_at"]) for e in history]
    checked = 0
    for (version, at), later in zip(enumerate(times, start=1), times[1:], strict=False):
        assert at.tzinfo is not None
        between = at + (later - at) / 2
        if between == at:
            continue  # recorded within the same microsecond: nothing lies between
        past = _as_of(client, long_case.case_id, as_of=between.isoformat())
        then, next_ = long_case.captured[version], long_case.captured[version + 1]
        # A meeting is its own stream: one recorded between the two versions already took
        # the case at T, though the read model captured at `version` predates it.
        assert then["meetings"] == past["meetings"][: len(then["meetings"])], version
        assert past["meetings"] == next_["meetings"][: len(past["meetings"])], version
        same = {k: v for k, v in _comparable(past).items() if k != "meetings"}
        then_now = _shown_now(same, _comparable(then))
        assert same == {k: v for k, v in then_now.items() if k != "meetings"}, version
        assert past["as_of"]["requested"] == between.isoformat()
        exact = _as_of(client, long_case.case_id, as_of=at.isoformat())
        assert exact["version"] == version
        checked += 1
    assert checked >= 15
    in_tokyo = times[-1].astimezone(datetime.fromisoformat("2026-01-01T00:00:00+09:00").tzinfo)
    assert _as_of(client, long_case.case_id, as_of=in_tokyo.isoformat())["version"] == len(times)

    before = (times[0].replace(year=times[0].year - 1)).isoformat()
    path = f"/cases/{long_case.case_id}"
    problem(client.get(path, params={"as_of": before}, headers=as_(COORDINATOR)), 404, "not_found")


def test_as_of_refusals_say_why(client: TestClient, long_case: LongCase) -> None:
    """A version past the latest is 404 version_not_found; both parameters, or a time without
    an offset, are 422; a version below 1 is a validation error."""
    path = f"/cases/{long_case.case_id}"
    latest = max(long_case.captured)

    def get(**params: Any) -> Any:
        return client.get(path, params=params, headers=as_(COORDINATOR))

    problem(get(as_of_version=latest + 1), 404, "version_not_found")
    problem(get(as_of_version=1, as_of="2026-04-01T00:00:00Z"), 422, "as_of_ambiguous")
    problem(get(as_of="2026-04-01T00:00:00"), 422, "as_of_offset_required")
    problem(get(as_of_version=0), 422, "validation_failed")
    assert "ETag" not in get(as_of_version=1).headers


def test_as_of_follows_todays_consent_and_logs_the_read(
    client: TestClient, long_case: LongCase, engine: Engine, make_api_key: Callable[..., str]
) -> None:
    """R-CON-4: an agency without consent sees redactions at every version, as it does now; a
    reader with a basis has the read of past personal data logged like any other."""
    past = _as_of(client, long_case.case_id, key=SELF_RELIANCE, as_of_version=3)
    assert past["person"]["redacted"] is True
    assert "山田" not in str(past)
    assert past["assessments"] == []
    later = _as_of(client, long_case.case_id, key=SELF_RELIANCE, as_of_version=6)
    assert later["assessments"][0].get("summary") is None
    assert "公共料金" not in str(later)

    with engine.connect() as conn:
        before = len(conn.execute(select(access_log.c.id)).all())
    shown = _as_of(client, long_case.case_id, as_of_version=6)
    assert shown["assessments"][0]["summary"] == "高齢の母と長期ひきこもりの長男の世帯"
    with engine.connect() as conn:
        assert len(conn.execute(select(access_log.c.id)).all()) > before


def test_history_has_positions_labels_actors_and_the_same_redaction_as_events(
    client: TestClient, long_case: LongCase, engine: Engine
) -> None:
    """GET /cases/{id}/history: every event with its notification id, version, type, Japanese
    label, time, actor and payload; personal fields as the caller may see (shared with /events)."""
    path = f"/cases/{long_case.case_id}/history"
    history = ok(client.get(path, headers=as_(COORDINATOR)))
    with engine.connect() as conn:
        index = dict(
            conn.execute(
                select(event_index.c.originator_version, event_index.c.notification_id).where(
                    event_index.c.originator_id == long_case.case_id
                )
            ).all()
        )
    assert [h["version"] for h in history] == list(range(1, max(long_case.captured) + 1))
    assert [h["position"] for h in history] == [index[h["version"]] for h in history]
    assert [h["position"] for h in history] == sorted({h["position"] for h in history})
    assert all(h["label"] == EVENT_LABELS[h["type"]] for h in history)
    assert history[0]["label"] == "紹介受付"
    assert history[0]["actor"] == {
        "municipality_id": "demo-city",
        "agency_id": COORDINATOR_AGENCY,
        "role": "coordinator",
    }
    assert history[0]["payload"]["person"]["name"] == "山田ハナ"
    raw = events(client, long_case.case_id)
    assert [{k: v for k, v in h.items() if k != "position"} for h in history] == raw

    redacted = ok(client.get(path, headers=as_(SELF_RELIANCE)))
    assert redacted[0]["payload"]["person"]["redacted"] is True
    assert "山田" not in str(redacted)
    problem(client.get("/cases/not-a-case/history", headers=as_(COORDINATOR)), 404, "not_found")


def _replay(database_url: str, monkeypatch: pytest.MonkeyPatch, *argv: str) -> int:
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        return cli.main(["replay", *argv])
    finally:
        get_settings.cache_clear()


def test_kasane_replay_prints_the_timeline_without_personal_data(
    client: TestClient,
    long_case: LongCase,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`kasane replay CASE_ID [--version N | --as-of T]`: version, time, type, label, actor,
    resulting state — workflow facts only."""
    case_id = long_case.case_id
    latest = max(long_case.captured)
    assert _replay(database_url, monkeypatch, case_id) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["version", "recorded", "at"]
    assert set(lines[1]) <= {"-", " "}
    rows = lines[2:]
    assert len(rows) == latest
    assert rows[0].split()[2:4] == ["CaseReferred", "紹介受付"]
    assert rows[0].split()[-3:] == ["coordinator", COORDINATOR_AGENCY, "referred"]
    for version, row in enumerate(rows, start=1):
        assert row.split()[0] == str(version)
        assert row.split()[-1] == long_case.captured[version]["state"]
    for personal in ("山田", "ハナ", "タロウ", "公共料金", "高齢の母"):
        assert personal not in out

    assert _replay(database_url, monkeypatch, case_id, "--version", "9") == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert len(rows) == 9
    assert rows[-1].split()[2:4] == ["SupportDecided", "支援決定"]
    assert rows[-1].split()[-1] == "in_support"

    at = events(client, case_id)[4]["recorded_at"]
    assert _replay(database_url, monkeypatch, case_id, "--as-of", at) == 0
    assert len(capsys.readouterr().out.splitlines()[2:]) == 5

    assert _replay(database_url, monkeypatch, case_id, "--version", str(latest + 1)) == 2
    assert "no version" in capsys.readouterr().err
    assert _replay(database_url, monkeypatch, "no-such-case") == 2
    assert "not found" in capsys.readouterr().err
