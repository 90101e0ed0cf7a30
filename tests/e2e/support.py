"""Builders of the e2e tier: case work over HTTP, with the fictional cases of EXAMPLES.md.

Each helper sends one request as a named party (an X-API-Key of the development key table,
municipality `demo-city`) and asserts only that the request was accepted, so that the tests
read like the work: refer, take consent, assess, plan, hold the meeting, decide, close.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

Json = dict[str, Any]

PROBLEM_JSON = "application/problem+json"

# the parties of demo-city (service/settings.py DEVELOPMENT_API_KEYS)
CITY = "dev-municipality"
COORDINATOR = "dev-coordinator"
CENTER = "dev-center"
SELF_RELIANCE = "dev-self-reliance"
AUDITOR = "dev-auditor"

CITY_AGENCY = "demo-city-welfare"
COORDINATOR_AGENCY = "demo-coordinator"
CENTER_AGENCY = "demo-general-support-center"
SELF_RELIANCE_AGENCY = "demo-self-reliance"
OUTREACH_AGENCY = "outreach-hikari"
PARTICIPATION_AGENCY = "sanka-nagomi"
DISABILITY_AGENCY = "shogai-soudan"
CHILD_SUPPORT_AGENCY = "riyousha-shien"


def as_(key: str | None) -> dict[str, str]:
    """Return the headers of a request by the party holding `key` (none: no credential)."""
    return {"X-API-Key": key} if key else {}


def post(client: TestClient, key: str | None, path: str, body: Json, **headers: str) -> Response:
    """POST `body` to `path` as `key`."""
    return client.post(path, json=body, headers={**as_(key), **headers})


def ok(response: Response, status: int = 200) -> Json:
    """Assert the request was accepted and return its JSON body."""
    assert response.status_code == status, response.text
    body: Json = response.json()
    return body


def problem(response: Response, status: int, code: str) -> Json:
    """Assert `response` is an RFC 9457 problem document with `status` and `code`."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: Json = response.json()
    assert body["code"] == code, body
    assert body["status"] == status
    return body


# --- the people of EXAMPLES.md -------------------------------------------------------------


def referral(
    referrer_agency_id: str | None,
    referrer_kind: str | None,
    reason: str,
    *,
    route: str = "referral",
    received_on: str = "2026-04-01",
) -> Json:
    """Return the intake block of the intake & application form (R-INT-1)."""
    return {
        "route": route,
        "referrer_agency_id": referrer_agency_id,
        "referrer_kind": referrer_kind,
        "received_on": received_on,
        "reason": reason,
    }


YAMADA = {
    "referral": referral(
        CENTER_AGENCY,
        "community_general_support_center",
        "未払いの請求書、同居の長男が20年ひきこもり訪問を拒否（8050）",
    ),
    "person": {"name": "山田ハナ", "name_kana": "やまだはな", "sex": "female"},
    "household": [{"name": "山田タロウ", "age": 53, "relationship": "長男"}],
}
SATO = {
    "referral": referral(
        CHILD_SUPPORT_AGENCY,
        "child_user_support",
        "ダブルケア（発達障害の子・認知症の父）と家賃滞納",
    ),
    "person": {"name": "佐藤ミキ", "sex": "female"},
    "household": [
        {"name": "佐藤ソラ", "age": 9, "relationship": "子"},
        {"name": "佐藤ゲン", "age": 74, "relationship": "父"},
    ],
}
SUZUKI = {
    "referral": referral(
        SELF_RELIANCE_AGENCY,
        "self_reliance_consultation",
        "児童養護施設退所後の不安定就労・住居",
    ),
    "person": {"name": "鈴木ケン", "sex": "male"},
    "household": [],
}
TAKAHASHI = {
    "referral": referral(
        DISABILITY_AGENCY, "disability_consultation", "就労と障害福祉サービスの調整"
    ),
    "person": {"name": "高橋ユイ", "sex": "female"},
    "household": [],
}
HOARDING_COUPLE = {
    "referral": referral(
        None,
        None,
        "近隣住民と民生委員から：高齢夫婦のごみ屋敷・セルフネグレクトの疑い、接触を拒否",
        route="direct_consultation",
    ),
    "person": {"name": "田中イチロウ", "sex": "male"},
    "household": [{"name": "田中フミ", "age": 79, "relationship": "妻"}],
}


# --- case work ------------------------------------------------------------------------------


def refer(client: TestClient, case: Json, key: str = COORDINATOR) -> Json:
    """Record a referral to the coordinator (R-INT-1); return the answer (201)."""
    return ok(post(client, key, "/cases", case), 201)


def consent(
    client: TestClient,
    case_id: str,
    agency_ids: list[str],
    *,
    person_id: str = "person",
    application_for_use: bool = True,
    key: str = COORDINATOR,
) -> Json:
    """Record the person's application for use and sharing consent (R-INT-2, R-CON-1)."""
    body = {
        "person_id": person_id,
        "application_for_use": application_for_use,
        "agency_ids": agency_ids,
        "given_by": "person",
        "given_on": "2026-04-03",
        "method": "form",
    }
    return ok(post(client, key, f"/cases/{case_id}/consents", body))


def start_assessment(client: TestClient, case_id: str) -> Json:
    """Take the case for assessment."""
    return ok(post(client, COORDINATOR, f"/cases/{case_id}/assessment-start", {}))


def assess(client: TestClient, case_id: str, summary: str = "世帯全体の課題を整理") -> Json:
    """Record the intake-assessment sheet (R-ASM-1, R-ASM-2)."""
    body = {
        "domains": [{"domain": "家計", "items": ["滞納"], "narrative": "公共料金の未払い"}],
        "information_sources": [{"agency_id": CENTER_AGENCY, "requested_on": "2026-04-05"}],
        "summary": summary,
    }
    return ok(post(client, COORDINATOR, f"/cases/{case_id}/assessments", body))


def plan_body(
    roles: list[tuple[str, str, str]],
    services: list[str] | None = None,
    goals: list[str] | None = None,
) -> Json:
    """Return a plan with goals, policy, roles and monitoring dates (R-PLN-1)."""
    return {
        "goals": goals or ["家計の安定", "タロウさんとの関係づくり"],
        "policy": "関係機関が一体となって世帯を支える",
        "roles": [{"agency_id": a, "agency_kind": k, "role": r} for a, k, r in roles],
        "monitoring_dates": ["2026-06-01", "2026-07-01"],
        "services": services or [],
    }


def draft_plan(client: TestClient, case_id: str, plan: Json) -> Json:
    """Write a plan version."""
    return ok(post(client, COORDINATOR, f"/cases/{case_id}/plans", plan))


def participant(agency_id: str, role: str, attended: bool = True) -> Json:
    """Return a participant of a meeting."""
    return {"agency_id": agency_id, "role": role, "attended": attended}


MANDATORY = [
    participant(COORDINATOR_AGENCY, "coordinator"),
    participant(CITY_AGENCY, "municipality"),
]
REGULAR = [
    *MANDATORY,
    participant(CENTER_AGENCY, "community_general_support_center"),
    participant(SELF_RELIANCE_AGENCY, "self_reliance_consultation"),
    participant(OUTREACH_AGENCY, "outreach_provider"),
]


def item(case_id: str, timing: str, plan_version: int | None, outcome: str = "approved") -> Json:
    """Return one agenda item of a meeting (R-MTG-5, R-MTG-7)."""
    return {"case_id": case_id, "timing": timing, "plan_version": plan_version, "outcome": outcome}


def meeting_body(
    agenda: list[Json],
    *,
    kind: str = "layered_support_meeting",
    participants: list[Json] | None = None,
    held_on: str = "2026-05-10",
    title: str = "重層的支援会議",
) -> Json:
    """Return a meeting record."""
    return {
        "kind": kind,
        "held_on": held_on,
        "meeting_format": "online",
        "title": title,
        "participants": REGULAR if participants is None else participants,
        "agenda": agenda,
    }


def hold_meeting(client: TestClient, body: Json, key: str = COORDINATOR) -> str:
    """Record a held meeting; return its id."""
    answer = ok(post(client, key, "/meetings", body), 201)
    meeting_id: str = answer["meeting_id"]
    return meeting_id


def layered_meeting(
    client: TestClient, case_id: str, timing: str, plan_version: int, held_on: str = "2026-05-10"
) -> str:
    """Hold a layered support meeting approving one case at `timing` (R-MTG-5)."""
    return hold_meeting(
        client, meeting_body([item(case_id, timing, plan_version)], held_on=held_on)
    )


def decide(client: TestClient, case_id: str, granted: bool = True, reason: str = "") -> Json:
    """The municipality's support decision (R-DEC-1)."""
    body = {"granted": granted, "reason": reason, "decided_on": "2026-05-12"}
    return ok(post(client, CITY, f"/cases/{case_id}/support-decisions", body))


def contact_attempt(
    client: TestClient, case_id: str, kind: str, reached: bool, on: str = "2026-07-01"
) -> Json:
    """Record an attempt to reach the person (R-SUS-2)."""
    body = {"kind": kind, "on": on, "reached": reached}
    return ok(post(client, COORDINATOR, f"/cases/{case_id}/contact-attempts", body))


def case(client: TestClient, case_id: str, key: str = COORDINATOR) -> Json:
    """GET the case detail."""
    return ok(client.get(f"/cases/{case_id}", headers=as_(key)))


def events(client: TestClient, case_id: str, key: str = COORDINATOR) -> list[Json]:
    """GET the case's event history."""
    history: list[Json] = ok(client.get(f"/cases/{case_id}/events", headers=as_(key)))
    return history


SIMPLE_ROLES = [
    (COORDINATOR_AGENCY, "coordinator", "全体調整"),
    (CENTER_AGENCY, "community_general_support_center", "見守り"),
]


def case_in_planning(client: TestClient, case: Json = SATO, key: str = COORDINATOR) -> str:
    """Refer, consent, assess: a case in planning; return its id."""
    case_id: str = refer(client, case, key)["case_id"]
    consent(client, case_id, [CENTER_AGENCY, SELF_RELIANCE_AGENCY])
    start_assessment(client, case_id)
    assess(client, case_id)
    return case_id


def case_in_support(
    client: TestClient,
    case: Json = SUZUKI,
    services: list[str] | None = None,
    key: str = COORDINATOR,
    roles: list[tuple[str, str, str]] | None = None,
) -> str:
    """Bring a case to in_support through plan v1, meeting A and (if needed) the decision."""
    case_id = case_in_planning(client, case, key)
    draft_plan(client, case_id, plan_body(roles or SIMPLE_ROLES, services))
    meeting_id = layered_meeting(client, case_id, "plan", 1)
    body = ok(
        post(client, COORDINATOR, f"/cases/{case_id}/plan-approval", {"meeting_id": meeting_id})
    )
    if body["state"] == "awaiting_decision":
        body = decide(client, case_id)
    assert body["state"] == "in_support"
    return case_id


# --- outreach and participation support (R-OUT, R-PAR) ------------------------------------------


def engagement_path(case_id: str, service: str, command: str = "") -> str:
    """Return the path of a case's outreach or participation support (and a command of it)."""
    return f"/cases/{case_id}/engagements/{service}" + (f"/{command}" if command else "")


def service_item(
    case_id: str, service: str, timing: str, plan_version: int, outcome: str = "approved"
) -> Json:
    """Return an agenda item deciding on a service's plan (R-OUT-4, R-PAR-5, R-MTG-7)."""
    return {**item(case_id, timing, plan_version, outcome), "service": service}


def start_engagement(
    client: TestClient,
    key: str,
    case_id: str,
    service: str,
    basis: str = "early_start",
    reason: str = "早期の関わりが必要",
) -> Json:
    """Start outreach or participation support (R-PAR-1, R-DEC-3); return the answer (201)."""
    body = {"basis": basis, "reason": reason, "started_on": "2026-04-10"}
    return ok(post(client, key, engagement_path(case_id, service, "start"), body), 201)


def engagement(client: TestClient, case_id: str, service: str, key: str = COORDINATOR) -> Json:
    """GET a case's outreach or participation support."""
    return ok(client.get(engagement_path(case_id, service), headers=as_(key)))
