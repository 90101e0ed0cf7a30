"""The case list and the meeting list: filters and pagination over the read models."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.e2e.support import (
    AUDITOR,
    CENTER,
    CENTER_AGENCY,
    CITY,
    COORDINATOR,
    HOARDING_COUPLE,
    SATO,
    SELF_RELIANCE,
    SUZUKI,
    TAKAHASHI,
    YAMADA,
    as_,
    case_in_support,
    hold_meeting,
    item,
    layered_meeting,
    meeting_body,
    ok,
    post,
    problem,
    refer,
)


def cases(client: TestClient, **params: object) -> dict[str, object]:
    """GET /cases with query parameters."""
    return ok(client.get("/cases", params=params, headers=as_(CITY)))


def ids(page: dict[str, object]) -> list[str]:
    """Return the case ids of a page."""
    return [row["case_id"] for row in page["items"]]  # type: ignore[attr-defined,index]


def test_R_INT_1_R_END_2_case_list_filters_and_pages(client: TestClient) -> None:
    """R-INT-1, R-END-2: the case list filters by state, referrer kind and lead agency,
    and pages with limit/offset and the total of the filter.
    """
    yamada = refer(client, YAMADA, CENTER)["case_id"]
    suzuki = case_in_support(client, SUZUKI, key=SELF_RELIANCE)
    sato = case_in_support(client, SATO)
    takahashi = refer(client, TAKAHASHI)["case_id"]
    couple = refer(client, HOARDING_COUPLE)["case_id"]
    ok(post(client, CITY, f"/cases/{couple}/council-referral", {"reason": "接触拒否"}))
    ok(
        post(
            client,
            COORDINATOR,
            f"/cases/{takahashi}/return-to-referrer",
            {"consultation": {"consulted_on": "2026-04-08", "summary": "通常の連携で対応可"}},
        )
    )
    closure_meeting = layered_meeting(client, sato, "closure", 1)
    ok(
        post(
            client,
            COORDINATOR,
            f"/cases/{sato}/closure",
            {
                "meeting_id": closure_meeting,
                "lead_agency_id": CENTER_AGENCY,
                "follow_up": {"needed": True, "method": "半年ごと"},
            },
        )
    )
    everyone = {yamada, suzuki, sato, takahashi, couple}

    all_cases = cases(client)
    assert all_cases["total"] == 5
    assert set(ids(all_cases)) == everyone
    # newest first
    assert ids(all_cases) == [couple, takahashi, sato, suzuki, yamada]

    by_state = cases(client, state="council_track")
    assert (ids(by_state), by_state["total"]) == ([couple], 1)
    assert by_state["items"][0]["state_label"] == "支援会議で検討（本人同意なし）"  # type: ignore[index]
    assert ids(cases(client, state="in_support")) == [suzuki]
    assert ids(cases(client, state="returned_to_referrer")) == [takahashi]
    assert cases(client, state="suspended")["total"] == 0

    assert ids(cases(client, referrer_kind="child_user_support")) == [sato]
    assert ids(cases(client, referrer_kind="community_general_support_center")) == [yamada]
    assert ids(cases(client, referrer_kind="self_reliance_consultation")) == [suzuki]

    by_lead = cases(client, lead_agency_id=CENTER_AGENCY)
    assert (ids(by_lead), by_lead["total"]) == ([sato], 1)
    row = by_lead["items"][0]  # type: ignore[index]
    assert (row["state"], row["current_plan_version"], row["referrer_agency_id"]) == (
        "closed",
        1,
        "riyousha-shien",
    )
    assert ids(cases(client, state="closed", referrer_kind="child_user_support")) == [sato]
    assert cases(client, state="closed", referrer_kind="disability_consultation")["total"] == 0

    pages = [cases(client, limit=2, offset=offset) for offset in (0, 2, 4)]
    assert [len(ids(p)) for p in pages] == [2, 2, 1]
    assert all(p["total"] == 5 and p["limit"] == 2 for p in pages)
    assert [p["offset"] for p in pages] == [0, 2, 4]
    assert [i for p in pages for i in ids(p)] == ids(all_cases)
    assert ids(cases(client, limit=2, offset=10)) == []
    assert cases(client, state="in_support", limit=1, offset=0)["total"] == 1

    problem(client.get("/cases", params={"limit": 0}, headers=as_(CITY)), 422, "validation_failed")
    problem(
        client.get("/cases", params={"limit": 201}, headers=as_(CITY)), 422, "validation_failed"
    )
    problem(
        client.get("/cases", params={"offset": -1}, headers=as_(CITY)), 422, "validation_failed"
    )
    assert cases(client)["total"] == ok(client.get("/cases", headers=as_(AUDITOR)))["total"]


def test_R_MTG_6_meeting_list_filters_by_kind_and_date(client: TestClient) -> None:
    """R-MTG-6, R-CON-2: the meeting list tells layered support meetings from support
    councils and case conferences, and filters by date.
    """
    suzuki = case_in_support(client, SUZUKI)  # meeting A on 2026-05-10
    couple = refer(client, HOARDING_COUPLE)["case_id"]
    council = hold_meeting(
        client,
        meeting_body(
            [item(couple, "none", None, "noted")], kind="support_council", held_on="2026-04-20"
        ),
        key=CITY,
    )
    conference = hold_meeting(
        client,
        meeting_body(
            [item(suzuki, "none", None, "noted")], kind="case_conference", held_on="2026-06-15"
        ),
    )

    def meetings(**params: object) -> dict[str, object]:
        return ok(client.get("/meetings", params=params, headers=as_(COORDINATOR)))

    everything = meetings()
    assert everything["total"] == 3
    assert [m["held_on"] for m in everything["items"]] == [  # type: ignore[attr-defined]
        "2026-06-15",
        "2026-05-10",
        "2026-04-20",
    ]
    layered = meetings(kind="layered_support_meeting")
    assert layered["total"] == 1
    item_a = layered["items"][0]  # type: ignore[index]
    assert item_a["kind_label"] == "重層的支援会議"
    assert item_a["agenda"][0]["case_id"] == suzuki
    assert {p["role"] for p in item_a["participants"]} >= {"coordinator", "municipality"}

    councils = meetings(kind="support_council")
    assert [m["meeting_id"] for m in councils["items"]] == [council]  # type: ignore[attr-defined]
    assert councils["items"][0]["kind_label"] == "支援会議"  # type: ignore[index]
    conferences = meetings(kind="case_conference")
    assert [m["meeting_id"] for m in conferences["items"]] == [conference]  # type: ignore[attr-defined]

    assert meetings(held_from="2026-05-01")["total"] == 2
    assert meetings(held_to="2026-05-10")["total"] == 2
    assert [m["meeting_id"] for m in meetings(held_from="2026-06-01")["items"]] == [  # type: ignore[attr-defined]
        conference
    ]
    paged = meetings(limit=1, offset=1)
    assert (paged["total"], len(paged["items"])) == (3, 1)  # type: ignore[arg-type]
    assert paged["items"][0]["held_on"] == "2026-05-10"  # type: ignore[index]
    assert ok(client.get(f"/meetings/{council}", headers=as_(COORDINATOR)))["kind"] == (
        "support_council"
    )


def test_R_CON_2_a_support_councils_content_is_shown_to_its_members_only(
    client: TestClient,
) -> None:
    """R-CON-2, R-ORG-2: agencies outside a support council see that it was held, not which
    cases it took or who attended; its members, the municipality and the auditor see it all."""
    couple = refer(client, HOARDING_COUPLE)["case_id"]
    members = [
        {"agency_id": "demo-coordinator", "role": "coordinator", "attended": True},
        {"agency_id": "demo-city-welfare", "role": "municipality", "attended": True},
        {"agency_id": CENTER_AGENCY, "role": "community_general_support_center", "attended": True},
    ]
    council = hold_meeting(
        client,
        meeting_body(
            [item(couple, "none", None, "noted")],
            kind="support_council",
            participants=members,
            held_on="2026-04-20",
        ),
        key=CITY,
    )
    for key in (CITY, COORDINATOR, CENTER, AUDITOR):
        seen = ok(client.get(f"/meetings/{council}", headers=as_(key)))
        assert [i["case_id"] for i in seen["agenda"]] == [couple], key
        assert len(seen["participants"]) == 3 and not seen.get("restricted"), key
    outside = ok(client.get(f"/meetings/{council}", headers=as_(SELF_RELIANCE)))
    assert (outside["agenda"], outside["participants"], outside["restricted"]) == ([], [], True)
    assert outside["kind"] == "support_council" and outside["held_on"] == "2026-04-20"
    listed = ok(client.get("/meetings", headers=as_(SELF_RELIANCE)))["items"]
    assert [(m["meeting_id"], m["agenda"]) for m in listed] == [(council, [])]
    assert couple not in str(listed)
