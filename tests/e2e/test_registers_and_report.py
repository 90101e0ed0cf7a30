"""The host register (R-PAR-3), community issues (R-RES-1) and the state report (R-RPT-1) over HTTP.

The state report test seeds March, April and May 2026 with the people of EXAMPLES.md and checks
the April figures against numbers counted by hand from the story below, before and after May's
events are added (a past period is reproducible).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

import eventsourcing.domain
import pytest
from fastapi.testclient import TestClient

from service.reports.state_report import as_document, state_report
from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    MANDATORY,
    SATO,
    SELF_RELIANCE,
    SELF_RELIANCE_AGENCY,
    SIMPLE_ROLES,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    as_,
    item,
    meeting_body,
    ok,
    plan_body,
    post,
    problem,
)

Json = dict[str, object]
RecordOn = Callable[[str], None]

HOST = {
    "name": "みどり農園",
    "kind": "work_experience",
    "capacity": 3,
    "contact": {"organisation": "NPO法人みどり", "phone": "0120-000-000"},
    "fields_of_activity": ["農作業", "食品加工"],
}


@pytest.fixture
def record_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordOn]:
    """Set the day events are recorded on (their timestamp), noon in Japan."""
    day = {"at": datetime.now(UTC)}
    monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", lambda: day["at"])

    def set_day(on: str) -> None:
        day["at"] = datetime.fromisoformat(f"{on}T03:00:00+00:00")

    yield set_day


def _with(case: dict, received_on: str) -> dict:
    return {**case, "referral": {**case["referral"], "received_on": received_on}}


# --- host register (R-PAR-3) ----------------------------------------------------------------


def test_R_PAR_3_host_register_register_change_retire_list(client: TestClient) -> None:
    """R-PAR-3: the municipality keeps a register of hosts (kind, capacity, contact, fields of
    activity); the participation provider may add to it; every role of the tenant reads it."""
    created = ok(post(client, CITY, "/hosts", HOST), 201)
    host_id = created["host_id"]
    assert created == {"host_id": host_id, "version": 1, "status": "active"}

    changed = ok(
        post(
            client, COORDINATOR, f"/hosts/{host_id}/changes", {"capacity": 5}, **{"If-Match": '"1"'}
        )
    )
    assert changed["version"] == 2
    problem(
        post(
            client, COORDINATOR, f"/hosts/{host_id}/changes", {"capacity": 6, "expected_version": 1}
        ),
        409,
        "version_conflict",
    )
    problem(
        post(client, CITY, f"/hosts/{host_id}/changes", {"kind": "castle"}),
        422,
        "validation_failed",
    )
    problem(post(client, CITY, "/hosts", {**HOST, "capacity": -1}), 422, "validation_failed")
    problem(post(client, CITY, "/hosts", {**HOST, "name": "  "}), 422, "host_name_required")

    detail = ok(client.get(f"/hosts/{host_id}", headers=as_(AUDITOR)))
    assert detail["capacity"] == 5
    assert detail["kind_label"] == "就労体験"
    assert detail["contact"] == {"organisation": "NPO法人みどり", "phone": "0120-000-000"}
    assert detail["fields_of_activity"] == ["農作業", "食品加工"]

    second = ok(
        post(client, CITY, "/hosts", {**HOST, "name": "あおぞら食堂", "kind": "place_to_belong"}),
        201,
    )
    retired = ok(
        post(
            client,
            CITY,
            f"/hosts/{second['host_id']}/retirement",
            {"retired_on": "2026-06-30", "reason": "閉店"},
        )
    )
    assert retired["status"] == "retired"
    problem(
        post(client, CITY, f"/hosts/{second['host_id']}/changes", {"capacity": 1}),
        422,
        "host_retired",
    )

    listed = ok(client.get("/hosts", headers=as_(CENTER)))
    assert [h["name"] for h in listed["items"]] == ["あおぞら食堂", "みどり農園"]
    active = ok(client.get("/hosts?status=active", headers=as_(CENTER)))
    assert [h["host_id"] for h in active["items"]] == [host_id]
    assert ok(client.get("/hosts?kind=housing", headers=as_(CENTER)))["total"] == 0
    problem(client.get("/hosts?status=gone", headers=as_(CENTER)), 422, "invalid_status_filter")
    page = ok(client.get("/hosts?limit=1&offset=1", headers=as_(CENTER)))
    assert (page["total"], len(page["items"]), page["items"][0]["name"]) == (2, 1, "みどり農園")


def test_R_PAR_3_R_ORG_1_host_register_roles(client: TestClient) -> None:
    """R-PAR-3, R-ORG-1: a consultation agency and the auditor read the register, never write
    it; another municipality's host answers 404 like a missing one."""
    problem(post(client, CENTER, "/hosts", HOST), 403, "role_not_permitted")
    problem(post(client, AUDITOR, "/hosts", HOST), 403, "role_not_permitted")
    host_id = ok(post(client, COORDINATOR, "/hosts", HOST), 201)["host_id"]
    problem(
        post(client, SELF_RELIANCE, f"/hosts/{host_id}/changes", {"capacity": 1}),
        403,
        "role_not_permitted",
    )
    problem(client.get("/hosts/not-a-host", headers=as_(CITY)), 404, "not_found")


def test_R_PAR_3_other_municipality_cannot_see_the_host(
    client: TestClient, other_town_client: TestClient
) -> None:
    """R-PAR-3, R-ORG-2: hosts are per municipality."""
    from tests.e2e.conftest import OTHER_COORDINATOR

    host_id = ok(post(client, CITY, "/hosts", HOST), 201)["host_id"]
    problem(
        other_town_client.get(f"/hosts/{host_id}", headers=as_(OTHER_COORDINATOR)), 404, "not_found"
    )
    problem(
        post(other_town_client, OTHER_COORDINATOR, f"/hosts/{host_id}/changes", {"capacity": 1}),
        404,
        "not_found",
    )
    assert ok(other_town_client.get("/hosts", headers=as_(OTHER_COORDINATOR)))["total"] == 0


# --- community issues (R-RES-1) -------------------------------------------------------------


def _case_with_consent(client: TestClient, case: dict, agency_ids: list[str]) -> str:
    case_id = ok(post(client, COORDINATOR, "/cases", case), 201)["case_id"]
    consent = {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": agency_ids,
        "given_by": "person",
        "given_on": "2026-04-03",
    }
    ok(post(client, COORDINATOR, f"/cases/{case_id}/consents", consent))
    return case_id


def test_R_RES_1_R_MTG_3_shortage_at_a_meeting_becomes_a_community_issue(
    client: TestClient,
) -> None:
    """R-RES-1, R-MTG-3 C: a shortage recorded at a meeting becomes a community issue in the
    same request; the same shortage at a later meeting links its cases to the same issue; the
    status moves open → in_development → resolved with a note, refusals carry their codes."""
    sato = _case_with_consent(client, SATO, [CENTER_AGENCY])
    suzuki = _case_with_consent(client, SUZUKI, [SELF_RELIANCE_AGENCY])
    first = meeting_body([item(sato, "none", None, "noted")], kind="case_conference")
    first["resource_shortages"] = ["就労体験の受け入れ先が不足", "夜間の居場所が少ない"]
    ok(post(client, COORDINATOR, "/meetings", first), 201)
    second = meeting_body(
        [item(suzuki, "none", None, "noted")], kind="case_conference", held_on="2026-06-01"
    )
    second["resource_shortages"] = ["就労体験の受け入れ先が不足　"]  # full-width space
    ok(post(client, COORDINATOR, "/meetings", second), 201)

    listed = ok(client.get("/community-issues", headers=as_(CITY)))
    assert listed["total"] == 2
    work = next(i for i in listed["items"] if i["text"] == "就労体験の受け入れ先が不足")
    assert work["status"] == "open"
    assert (work["meeting_count"], work["case_count"]) == (2, 2)
    assert sorted(work["case_ids"]) == sorted([sato, suzuki])
    assert (work["first_raised_on"], work["last_raised_on"]) == ("2026-05-10", "2026-06-01")

    issue_id = work["issue_id"]
    path = f"/community-issues/{issue_id}/status"
    body = {"status": "in_development", "note": "農園と協議開始", "changed_on": "2026-06-10"}
    problem(post(client, CENTER, path, body), 403, "role_not_permitted")
    problem(post(client, CITY, path, {**body, "note": " "}), 422, "community_issue_note_required")
    problem(
        post(client, CITY, path, {**body, "status": "open"}),
        422,
        "community_issue_status_not_allowed",
    )
    moved = ok(post(client, CITY, path, body, **{"If-Match": '"2"'}))
    assert (moved["status"], moved["status_label"], moved["version"]) == (
        "in_development",
        "資源開発中",
        3,
    )
    problem(
        post(client, CITY, path, {**body, "status": "resolved"}, **{"If-Match": '"2"'}),
        412,
        "version_conflict",
    )
    ok(post(client, COORDINATOR, path, {**body, "status": "resolved", "note": "受け入れ開始"}))

    assert ok(client.get("/community-issues?status=resolved", headers=as_(CITY)))["total"] == 1
    assert ok(client.get("/community-issues?status=open", headers=as_(CITY)))["total"] == 1
    problem(
        client.get("/community-issues?status=x", headers=as_(CITY)), 422, "invalid_status_filter"
    )
    detail = ok(client.get(f"/community-issues/{issue_id}", headers=as_(CITY)))
    assert [h["status"] for h in detail["status_history"]] == ["in_development", "resolved"]

    # raised again after it was resolved: the shortage persists, the issue reopens
    third = meeting_body(
        [item(sato, "none", None, "noted")], kind="case_conference", held_on="2026-09-01"
    )
    third["resource_shortages"] = ["就労体験の受け入れ先が不足"]
    ok(post(client, COORDINATOR, "/meetings", third), 201)
    reopened = ok(client.get(f"/community-issues/{issue_id}", headers=as_(CITY)))
    assert (reopened["status"], reopened["meeting_count"], reopened["case_count"]) == ("open", 3, 2)


def test_R_RES_1_R_CON_4_case_ids_only_for_readers_with_a_basis(client: TestClient) -> None:
    """R-RES-1, R-CON-4, R-CON-2: the raising cases are named to a reader who may read them
    (consent covering its agency, or a council it sat on) and only counted for the others."""
    sato = _case_with_consent(client, SATO, [CENTER_AGENCY])
    couple = ok(post(client, COORDINATOR, "/cases", HOARDING_COUPLE), 201)["case_id"]
    ok(post(client, CITY, f"/cases/{couple}/council-referral", {"reason": "接触を拒否"}))
    council = meeting_body(
        [item(sato, "none", None, "noted"), item(couple, "none", None, "noted")],
        kind="support_council",
        participants=MANDATORY,
        held_on="2026-04-25",
    )
    council["resource_shortages"] = ["ごみ出し支援の担い手が不足"]
    ok(post(client, CITY, "/meetings", council), 201)

    def seen(key: str) -> tuple[list[str], int, int]:
        issue = ok(client.get("/community-issues", headers=as_(key)))["items"][0]
        return sorted(issue["case_ids"]), issue["case_count"], issue["undisclosed_case_count"]

    # the municipality sat on the council and runs the service: both cases
    assert seen(CITY) == (sorted([sato, couple]), 2, 0)
    # the center is covered by Sato's consent only, and was not on the council
    assert seen(CENTER) == ([sato], 2, 1)
    # the self-reliance consultation has no basis for either: counts only
    assert seen(SELF_RELIANCE) == ([], 2, 2)
    # the auditor never reads personal data: counts only
    assert seen(AUDITOR) == ([], 2, 2)
    issue_id = ok(client.get("/community-issues", headers=as_(AUDITOR)))["items"][0]["issue_id"]
    detail = ok(client.get(f"/community-issues/{issue_id}", headers=as_(AUDITOR)))
    assert sato not in str(detail) and couple not in str(detail)


# --- the state report (R-RPT-1) -------------------------------------------------------------

# April 2026 counted by hand from the story in `_seed_march_and_april`.
APRIL_2026 = {
    "referrals": 4,  # Sato 4/2, Suzuki 4/5, Takahashi 4/10, the couple 4/20 (Yamada: March)
    "referrals_by_kind": {
        "community_general_support_center": 0,
        "disability_consultation": 1,  # Takahashi
        "child_user_support": 1,  # Sato
        "self_reliance_consultation": 1,  # Suzuki
        "town_without_welfare_office_consultation": 0,
        "community_building_provider": 0,
        "direct_consultation": 1,  # the couple
        "other": 0,
    },
    "consents": 2,  # Sato 4/3, Suzuki 4/6 (Yamada 3/12)
    "assessments": 2,  # Sato 4/6, Suzuki 4/8 (Yamada 3/15)
    "plans": 2,  # Sato and Suzuki at the 4/15 meeting (Yamada 3/25)
    "replans": 0,
    "layered_support_meetings": 2,  # 4/15 (Sato + Suzuki), 4/20 (Yamada's closure)
    "layered_support_meeting_items": {"plan": 2, "replan": 0, "closure": 1, "suspension": 0},
    "support_councils": 1,  # 4/25
    "case_conferences": 0,  # the case conference is in May
    "support_decisions_granted": 1,  # Sato 4/17
    "support_decisions_refused": 1,  # Suzuki 4/18
    "early_starts": 1,  # the couple's outreach 4/26
    "closures": 1,  # Yamada at the 4/20 meeting
    "suspensions": 0,
    "resumptions": 0,  # Yamada resumes in May
    "open_cases_at_end": 3,  # Sato (in support), Suzuki (planning), the couple (council)
    "outreach_started": 0,
    "outreach_open_at_end": 0,
    "participation_started": 0,
    "participation_open_at_end": 0,
    "hosts_registered": 2,  # みどり農園 and あおぞら食堂 on 4/8 (ひだまり荘: March)
    "hosts_active_at_end": 2,  # ひだまり荘 retired on 4/28
    "community_issues_raised": 3,  # two at 4/15, one at the 4/25 council
    "community_issues_open_at_end": 3,  # 移動手段 (March) + 2 open; 夜間の居場所 resolved 4/28
}


def _step(client: TestClient, key: str, case_id: str, command: str, body: dict) -> dict:
    return ok(post(client, key, f"/cases/{case_id}/{command}", body))


def _consent(client: TestClient, case_id: str, given_on: str) -> None:
    body = {
        "person_id": "person",
        "application_for_use": True,
        "agency_ids": [CENTER_AGENCY, SELF_RELIANCE_AGENCY],
        "given_by": "person",
        "given_on": given_on,
    }
    _step(client, COORDINATOR, case_id, "consents", body)


def _to_planning(
    client: TestClient,
    record_on: RecordOn,
    case: dict,
    received: str,
    consented: str,
    assessed: str,
) -> str:
    record_on(received)
    case_id = ok(post(client, COORDINATOR, "/cases", _with(case, received)), 201)["case_id"]
    record_on(consented)
    _consent(client, case_id, consented)
    _step(client, COORDINATOR, case_id, "assessment-start", {})
    record_on(assessed)
    _step(client, COORDINATOR, case_id, "assessments", {"summary": "世帯全体の課題を整理"})
    return case_id


def _meeting(
    client: TestClient,
    record_on: RecordOn,
    agenda: list,
    held_on: str,
    shortages: list[str],
    kind: str = "layered_support_meeting",
    key: str = COORDINATOR,
    participants: list | None = None,
) -> str:
    record_on(held_on)
    body = meeting_body(agenda, kind=kind, held_on=held_on, participants=participants)
    body["resource_shortages"] = shortages
    meeting_id: str = ok(post(client, key, "/meetings", body), 201)["meeting_id"]
    return meeting_id


def _seed_march_and_april(client: TestClient, record_on: RecordOn) -> dict[str, str]:
    ids: dict[str, str] = {}
    # March: Yamada from referral to support; a host registered; one shortage raised
    yamada = _to_planning(client, record_on, YAMADA, "2026-03-10", "2026-03-12", "2026-03-15")
    ids["yamada"] = yamada
    _step(client, COORDINATOR, yamada, "plans", plan_body(SIMPLE_ROLES))
    march = _meeting(client, record_on, [item(yamada, "plan", 1)], "2026-03-25", ["移動手段がない"])
    _step(client, COORDINATOR, yamada, "plan-approval", {"meeting_id": march})
    record_on("2026-03-01")
    ids["hidamari"] = ok(
        post(client, CITY, "/hosts", {**HOST, "name": "ひだまり荘", "kind": "housing"}), 201
    )["host_id"]

    # April
    sato = _to_planning(client, record_on, SATO, "2026-04-02", "2026-04-03", "2026-04-06")
    suzuki = _to_planning(client, record_on, SUZUKI, "2026-04-05", "2026-04-06", "2026-04-08")
    ids.update(sato=sato, suzuki=suzuki)
    record_on("2026-04-08")
    ok(post(client, CITY, "/hosts", HOST), 201)
    ok(
        post(client, CITY, "/hosts", {**HOST, "name": "あおぞら食堂", "kind": "place_to_belong"}),
        201,
    )
    record_on("2026-04-10")
    takahashi = ok(post(client, COORDINATOR, "/cases", _with(TAKAHASHI, "2026-04-10")), 201)[
        "case_id"
    ]
    _step(
        client,
        COORDINATOR,
        takahashi,
        "return-to-referrer",
        {"consultation": {"consulted_on": "2026-04-12", "summary": "障害福祉サービスで対応可能"}},
    )
    for case_id in (sato, suzuki):
        _step(client, COORDINATOR, case_id, "plans", plan_body(SIMPLE_ROLES, ["participation"]))
    april = _meeting(
        client,
        record_on,
        [item(sato, "plan", 1), item(suzuki, "plan", 1)],
        "2026-04-15",
        ["就労体験の受け入れ先が不足", "夜間の居場所が少ない"],
    )
    for case_id in (sato, suzuki):
        _step(client, COORDINATOR, case_id, "plan-approval", {"meeting_id": april})
    record_on("2026-04-17")
    _step(client, CITY, sato, "support-decisions", {"granted": True, "decided_on": "2026-04-17"})
    record_on("2026-04-18")
    _step(
        client,
        CITY,
        suzuki,
        "support-decisions",
        {"granted": False, "reason": "就労先の調整を先に", "decided_on": "2026-04-18"},
    )
    closure = _meeting(client, record_on, [item(yamada, "closure", 1)], "2026-04-20", [])
    _step(
        client,
        COORDINATOR,
        yamada,
        "closure",
        {
            "meeting_id": closure,
            "lead_agency_id": CENTER_AGENCY,
            "follow_up": {"needed": True, "method": "四半期ごとの訪問"},
            "hand_back": {
                "agency_id": CENTER_AGENCY,
                "agency_kind": "community_general_support_center",
            },
        },
    )
    couple = ok(post(client, COORDINATOR, "/cases", _with(HOARDING_COUPLE, "2026-04-20")), 201)[
        "case_id"
    ]
    _step(client, CITY, couple, "council-referral", {"reason": "本人が接触を拒否"})
    _meeting(
        client,
        record_on,
        [item(couple, "none", None, "noted")],
        "2026-04-25",
        ["ごみ出し支援の担い手が不足"],
        kind="support_council",
        key=CITY,
        participants=MANDATORY,
    )
    record_on("2026-04-26")
    _step(
        client,
        COORDINATOR,
        couple,
        "early-starts",
        {"service": "outreach", "reason": "セルフネグレクトの疑い", "started_on": "2026-04-26"},
    )
    record_on("2026-04-28")
    ok(
        post(
            client,
            CITY,
            f"/hosts/{ids['hidamari']}/retirement",
            {"retired_on": "2026-04-28", "reason": "閉鎖"},
        )
    )
    night = next(
        i
        for i in ok(client.get("/community-issues", headers=as_(CITY)))["items"]
        if i["text"] == "夜間の居場所が少ない"
    )
    ok(
        post(
            client,
            CITY,
            f"/community-issues/{night['issue_id']}/status",
            {"status": "resolved", "note": "公民館の夜間開放", "changed_on": "2026-04-28"},
        )
    )
    return ids


def _seed_may(client: TestClient, record_on: RecordOn, ids: dict[str, str]) -> None:
    record_on("2026-05-02")
    ok(post(client, COORDINATOR, "/cases", _with(YAMADA, "2026-05-02")), 201)
    ok(post(client, CITY, "/hosts", {**HOST, "name": "さくら工房"}), 201)
    record_on("2026-05-10")
    _step(
        client,
        COORDINATOR,
        ids["yamada"],
        "resumption",
        {"reason": "再び滞納", "resumed_on": "2026-05-10"},
    )
    _meeting(
        client,
        record_on,
        [item(ids["sato"], "none", None, "noted")],
        "2026-05-20",
        ["就労体験の受け入れ先が不足", "夜間の居場所が少ない", "ひきこもり家族会がない"],
        kind="case_conference",
    )
    _consent(client, ids["suzuki"], "2026-05-21")


def _report(client: TestClient, key: str = CITY, **params: str) -> Json:
    query = {"from": "2026-04-01", "to": "2026-04-30", **params}
    return ok(client.get("/reports/state", params=query, headers=as_(key)))


def _figures(report: Json) -> Json:
    return {k: v for k, v in report.items() if k not in ("municipality_id", "from", "to", "labels")}


def test_R_RPT_1_state_report_of_a_seeded_month_equals_hand_counted_figures(
    client: TestClient, record_on: RecordOn
) -> None:
    """R-RPT-1: the April report counts what happened in April, by business date, and stays
    the same after May's events (a past period is reproducible from the events)."""
    ids = _seed_march_and_april(client, record_on)
    april = _report(client)
    assert (april["municipality_id"], april["from"], april["to"]) == (
        "demo-city",
        "2026-04-01",
        "2026-04-30",
    )
    assert _figures(april) == APRIL_2026

    # streamed in small batches through the event index: the same figures
    app = client.app.state.kasane  # type: ignore[attr-defined]
    period = (date(2026, 4, 1), date(2026, 4, 30))
    streamed = state_report(app.report_events("demo-city", batch=3), *period)
    assert as_document("demo-city", *period, streamed) == april

    _seed_may(client, record_on, ids)
    assert _report(client) == april
    assert _report(client, AUDITOR) == april

    may = _figures(_report(client, **{"from": "2026-05-01", "to": "2026-05-31"}))
    assert (may["referrals"], may["resumptions"], may["consents"], may["case_conferences"]) == (
        1,
        1,
        1,
        1,
    )
    assert (may["open_cases_at_end"], may["hosts_registered"], may["hosts_active_at_end"]) == (
        5,
        1,
        3,
    )
    # one new issue; two old ones linked, the resolved 夜間の居場所 reopens: all five open
    assert (may["community_issues_raised"], may["community_issues_open_at_end"]) == (1, 5)
    # the whole spring at once
    spring = _figures(_report(client, **{"from": "2026-03-01", "to": "2026-05-31"}))
    assert (spring["referrals"], spring["plans"], spring["closures"]) == (6, 3, 1)


def test_R_RPT_1_state_report_as_csv_with_japanese_headers(
    client: TestClient, record_on: RecordOn
) -> None:
    """R-RPT-1: `Accept: text/csv` or `format=csv` answer one row of Japanese headers and one
    row with the same figures as the JSON."""
    _seed_march_and_april(client, record_on)
    by_accept = client.get(
        "/reports/state",
        params={"from": "2026-04-01", "to": "2026-04-30"},
        headers={**as_(CITY), "Accept": "text/csv"},
    )
    assert by_accept.status_code == 200, by_accept.text
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert "attachment" in by_accept.headers["content-disposition"]
    text = by_accept.content.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[:7] == [
        "市町村",
        "期間開始日",
        "期間終了日",
        "紹介・相談受付件数",
        "紹介・相談受付件数（地域包括支援センター）",
        "紹介・相談受付件数（障害者相談支援事業）",
        "紹介・相談受付件数（利用者支援事業）",
    ]
    assert "期末時点の支援継続中ケース数" in header
    assert "地域課題 新規件数" in header
    values = dict(zip(header, row, strict=True))
    assert values["市町村"] == "demo-city"
    assert values["紹介・相談受付件数"] == "4"
    assert values["重層的支援会議 A プラン策定時 件数"] == "2"
    assert values["期末時点の支援継続中ケース数"] == "3"
    assert values["地域課題 期末未解決件数"] == "3"

    by_format = client.get(
        "/reports/state",
        params={"from": "2026-04-01", "to": "2026-04-30", "format": "csv"},
        headers=as_(AUDITOR),
    )
    assert by_format.content == by_accept.content


def test_R_RPT_1_state_report_refusals(client: TestClient) -> None:
    """R-RPT-1, R-ORG-1: only the municipality, the auditor and integration read the report;
    a period that ends before it starts and a malformed date are refused with their codes."""
    problem(client.get("/reports/state", headers=as_(COORDINATOR)), 403, "role_not_permitted")
    problem(client.get("/reports/state", headers=as_(CENTER)), 403, "role_not_permitted")
    problem(
        client.get("/reports/state?from=2026-05-01&to=2026-04-30", headers=as_(CITY)),
        422,
        "invalid_report_period",
    )
    problem(
        client.get("/reports/state?from=2026-13-01", headers=as_(CITY)), 422, "validation_failed"
    )
    problem(client.get("/reports/state?format=xml", headers=as_(CITY)), 422, "validation_failed")
    # without a period: this month so far
    report = ok(client.get("/reports/state", headers=as_(CITY)))
    assert report["from"].endswith("-01") and report["referrals"] == 0


def test_R_RPT_1_other_municipalitys_events_are_not_counted(
    client: TestClient, other_town_client: TestClient
) -> None:
    """R-RPT-1, R-ORG-2: the report reads the events of its own municipality only."""
    from tests.e2e.conftest import OTHER_COORDINATOR

    ok(post(other_town_client, OTHER_COORDINATOR, "/cases", _with(SATO, "2026-04-02")), 201)
    ok(post(client, COORDINATOR, "/cases", _with(SUZUKI, "2026-04-05")), 201)
    assert _report(client)["referrals"] == 1
    assert _report(client)["referrals_by_kind"]["self_reliance_consultation"] == 1


def test_R_RPT_1_kasane_report_cli_prints_the_same_figures(
    client: TestClient,
    record_on: RecordOn,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """R-RPT-1: `kasane report --from --to [--municipality] [--format]` prints the report of the
    API, as JSON or as CSV with the Japanese headers; a bad period is refused (exit 2)."""
    from service import cli
    from service.settings import get_settings

    _seed_march_and_april(client, record_on)
    api = _report(client)
    monkeypatch.setenv("KASANE_DATABASE_URL", database_url)
    get_settings.cache_clear()
    try:
        capsys.readouterr()
        assert cli.main(["report", "--from", "2026-04-01", "--to", "2026-04-30"]) == 0
        assert json.loads(capsys.readouterr().out) == api
        argv = ["report", "--from", "2026-04-01", "--to", "2026-04-30", "--format", "csv"]
        assert cli.main([*argv, "--municipality", "demo-city"]) == 0
        header, row = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        assert dict(zip(header, row, strict=True))["紹介・相談受付件数（直接相談）"] == "1"
        assert cli.main(["report", "--from", "2026-04-31", "--to", "2026-05-01"]) == 2
        assert "refused" in capsys.readouterr().err
        assert cli.main(["report", "--from", "2026-05-01", "--to", "2026-04-01"]) == 2
        assert "refused" in capsys.readouterr().err
        elsewhere = ["report", "--from", "2026-04-01", "--to", "2026-04-30"]
        assert cli.main([*elsewhere, "--municipality", "other-town"]) == 0
        assert json.loads(capsys.readouterr().out)["referrals"] == 0
    finally:
        get_settings.cache_clear()


def test_R_RES_1_refused_meeting_raises_no_issue(client: TestClient) -> None:
    """R-RES-1, R-MTG-3: the issues are written with the meeting or not at all: a meeting
    refused by a rule leaves no community issue behind."""
    couple = ok(post(client, COORDINATOR, "/cases", HOARDING_COUPLE), 201)["case_id"]
    body = meeting_body([item(couple, "none", None, "noted")])  # no consent: council only
    body["resource_shortages"] = ["ごみ出し支援の担い手が不足"]
    problem(post(client, COORDINATOR, "/meetings", body), 422, "case_without_consent")
    assert ok(client.get("/community-issues", headers=as_(CITY)))["total"] == 0


def test_R_RES_1_other_municipality_cannot_reach_the_issue(
    client: TestClient, other_town_client: TestClient
) -> None:
    """R-RES-1, R-ORG-2: issues are per municipality; the same words elsewhere are another
    issue, and another municipality's issue id answers 404."""
    from tests.e2e.conftest import OTHER_COORDINATOR

    sato = _case_with_consent(client, SATO, [CENTER_AGENCY])
    body = meeting_body([item(sato, "none", None, "noted")], kind="case_conference")
    body["resource_shortages"] = ["移動手段がない"]
    ok(post(client, COORDINATOR, "/meetings", body), 201)
    issue_id = ok(client.get("/community-issues", headers=as_(CITY)))["items"][0]["issue_id"]
    status = {"status": "closed", "note": "x", "changed_on": "2026-06-01"}
    other = as_(OTHER_COORDINATOR)
    problem(other_town_client.get(f"/community-issues/{issue_id}", headers=other), 404, "not_found")
    problem(
        post(other_town_client, OTHER_COORDINATOR, f"/community-issues/{issue_id}/status", status),
        404,
        "not_found",
    )
    assert ok(other_town_client.get("/community-issues", headers=other))["total"] == 0


def test_R_RPT_1_outreach_and_participation_cases_from_the_engagements(
    client: TestClient, record_on: RecordOn
) -> None:
    """R-RPT-1, R-OUT-1, R-PAR-1: outreach and participation cases are counted from the
    engagements: started in the period (by `started_on`) and open at its end. The couple's
    outreach starts early (also an early start of the case); Sato's participation starts after
    the support decision; Suzuki's outreach starts in May."""
    ids = _seed_march_and_april(client, record_on)  # the couple's early start: /early-starts
    sato, suzuki = ids["sato"], ids["suzuki"]
    record_on("2026-04-19")
    start = {"basis": "support_decision", "started_on": "2026-04-19"}
    ok(post(client, COORDINATOR, f"/cases/{sato}/engagements/participation/start", start), 201)
    record_on("2026-05-07")
    early = {"basis": "early_start", "reason": "住居喪失の恐れ", "started_on": "2026-05-07"}
    ok(post(client, COORDINATOR, f"/cases/{suzuki}/engagements/outreach/start", early), 201)

    april = _report(client)
    expected = {
        **APRIL_2026,
        "participation_started": 1,
        "participation_open_at_end": 1,
        "outreach_started": 0,  # the couple's outreach was recorded as a case early start only
        "outreach_open_at_end": 0,
    }
    assert _figures(april) == expected
    may = _figures(_report(client, **{"from": "2026-05-01", "to": "2026-05-31"}))
    assert (may["outreach_started"], may["outreach_open_at_end"]) == (1, 1)
    assert (may["participation_started"], may["participation_open_at_end"]) == (0, 1)
    assert may["early_starts"] == 1  # Suzuki's early outreach is also the case's early start


def test_R_PAR_3_R_RES_1_register_views_rebuild_from_the_events(
    client: TestClient, record_on: RecordOn
) -> None:
    """R-PAR-3, R-RES-1: the host and community-issue views are read models: emptied and
    rebuilt from the events they equal what the commands wrote."""
    from tests.integration.test_rebuild import _snapshot

    _seed_march_and_april(client, record_on)
    app = client.app.state.kasane  # type: ignore[attr-defined]
    hosts = ok(client.get("/hosts", headers=as_(CITY)))
    issues = ok(client.get("/community-issues", headers=as_(CENTER)))
    live = _snapshot(app)
    assert len(live["host_list"]) == 3 and len(live["community_issue_list"]) == 4
    app.rebuild_read_models()
    assert _snapshot(app) == live
    assert ok(client.get("/hosts", headers=as_(CITY))) == hosts
    assert ok(client.get("/community-issues", headers=as_(CENTER))) == issues
