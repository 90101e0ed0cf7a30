"""Worklist items: what is due per case, stored with its due date (R-SUP-1, R-SUP-2, R-SUS-2).

Each aggregate owns its items: a projector computes the complete list of what the aggregate has
due and calls `replace_items`, which deletes the aggregate's previous items and inserts the new
ones in the caller's transaction. Nothing here knows the current date: whether an item is
overdue is decided when the worklist is read, from the application's clock, so no timer runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.clock import JST
from service.domain.case import SupportCase
from service.persistence.tables import worklist_items

Json = dict[str, Any]


@dataclass(frozen=True)
class WorklistItem:
    """One due item of a case. `agency_id`/`role` None means municipality-wide.

    `label` is the Japanese text shown to users; it must carry no personal data (no names,
    addresses or narratives), only what kind of work is due and for which plan or date.
    """

    municipality_id: str
    case_id: str
    kind: str
    due_on: date
    label: str
    agency_id: str | None = None
    role: str | None = None


def replace_items(session: Session, aggregate_id: str, items: Iterable[WorklistItem]) -> None:
    """Replace every worklist item of `aggregate_id` with `items` (same transaction)."""
    session.execute(delete(worklist_items).where(worklist_items.c.aggregate_id == aggregate_id))
    rows = [
        {
            "aggregate_id": aggregate_id,
            "seq": seq,
            "municipality_id": item.municipality_id,
            "case_id": item.case_id,
            "kind": item.kind,
            "due_on": item.due_on,
            "agency_id": item.agency_id,
            "role": item.role,
            "label": item.label,
        }
        for seq, item in enumerate(items, start=1)
    ]
    if rows:
        session.execute(insert(worklist_items), rows)


# --- the items of a support case -------------------------------------------------------------

MONITORING = "monitoring"
FOLLOW_UP = "follow_up"
NO_CONTACT = "no_contact"
PLAN_MEETING = "plan_meeting"
SUPPORT_DECISION = "support_decision"

KIND_LABELS = {
    MONITORING: "モニタリング",
    FOLLOW_UP: "終結後のフォローアップ",
    NO_CONTACT: "接触なし（中断の検討候補）",
    PLAN_MEETING: "プラン案の重層的支援会議待ち",
    SUPPORT_DECISION: "市町村の支援決定待ち",
}


def register_kind_label(kind: str, label: str) -> None:
    """Name another kind of item (e.g. of outreach or participation engagements) in Japanese."""
    KIND_LABELS.setdefault(kind, label)


# For NO_CONTACT items `due_on` holds the date of the last recorded contact: the number of days
# without contact that makes a case a suspension candidate is a setting and a query parameter,
# so it is added when the worklist is read (service/application/worklists.py).
COUNTED_FROM_LAST_CONTACT = frozenset({NO_CONTACT})

_SUPPORT_STATES = ("in_support", "replanning")


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _coordinators(plan: Json | None) -> list[str | None]:
    """The coordinator agencies named in a plan's roles; None (the role as a whole) if none."""
    agencies = [
        r["agency_id"]
        for r in (plan or {}).get("roles", [])
        if r.get("agency_kind") == "coordinator" and r.get("agency_id")
    ]
    return list(dict.fromkeys(agencies)) or [None]


def _last_contact(case: SupportCase) -> date:
    """The latest day the person was in contact (R-SUS-2).

    Contact is: an attempt that reached the person, monitoring with contact, contact restored at
    a resumption, a consent the person gave in person. Without any, the referral's day counts.
    """
    days = [_day(c.get("on")) for c in case.contacts if c.get("reached")]
    days += [_day(m.get("on")) for m in case.monitoring if m.get("contact_made")]
    days += [_day(r.get("contact_restored_on")) for r in case.resumptions]
    days += [_day(c.get("given_on")) for c in case.consents if c.get("given_by") == "person"]
    known = [d for d in days if d is not None]
    if known:
        return max(known)
    referred = _day(case.referral.get("received_on") or case.referral.get("referred_on"))
    return referred or case.created_on.astimezone(JST).date()


def next_monitoring_date(case: SupportCase) -> date | None:
    """The earliest monitoring date of the plan in effect not yet met (R-SUP-1, R-SUP-2).

    A monitoring date is met by a monitoring record dated on or after it; so once the person's
    situation has been gathered, every earlier date of the plan counts as met.
    """
    plan = case.current_plan
    if plan is None:
        return None
    recorded = [d for d in (_day(m.get("on")) for m in case.monitoring) if d is not None]
    latest = max(recorded) if recorded else None
    dates = sorted(d for d in (_day(v) for v in plan.get("monitoring_dates", [])) if d)
    return next((d for d in dates if latest is None or d > latest), None)


def case_items(case: SupportCase) -> list[WorklistItem]:
    """Return what a support case has due now (a pure function of the case's state)."""
    items: list[WorklistItem] = []
    base = {"municipality_id": case.municipality_id, "case_id": str(case.id)}
    changed = case.modified_on.astimezone(JST).date()
    plan = case.current_plan
    if case.state in _SUPPORT_STATES and plan is not None:
        due = next_monitoring_date(case)
        if due is not None:
            label = f"モニタリング（プラン第{plan['version']}版、予定日 {due.isoformat()}）"
            items += [
                WorklistItem(
                    **base,
                    kind=MONITORING,
                    due_on=due,
                    label=label,
                    agency_id=a,
                    role="coordinator",
                )
                for a in _coordinators(plan)
            ]
    if case.state in _SUPPORT_STATES:
        last = _last_contact(case)
        label = f"本人との接触なし（最終接触日 {last.isoformat()}）"
        items += [
            WorklistItem(
                **base, kind=NO_CONTACT, due_on=last, label=label, agency_id=a, role="coordinator"
            )
            for a in _coordinators(plan)
        ]
    draft = case.plan_in_draft
    if draft is not None and case.state in ("planning", "replanning"):
        label = f"プラン第{draft['version']}版案の重層的支援会議待ち"
        items += [
            WorklistItem(
                **base,
                kind=PLAN_MEETING,
                due_on=_day(draft.get("drafted_on")) or changed,
                label=label,
                agency_id=a,
                role="coordinator",
            )
            for a in _coordinators(draft)
        ]
    pending = case.pending_plan
    if pending is not None and case.state == "awaiting_decision":
        label = f"プラン第{pending['version']}版の支援決定待ち"
        items.append(
            WorklistItem(
                **base,
                kind=SUPPORT_DECISION,
                due_on=_day(pending.get("approved_on")) or changed,
                label=label,
                role="municipality",
            )
        )
    closure = case.closure
    follow_up = (closure or {}).get("follow_up") or {}
    if case.state == "closed" and closure is not None and follow_up.get("needed"):
        due = _day(follow_up.get("due_on"))
        label = (
            f"終結後のフォローアップ（予定日 {due.isoformat()}）"
            if due
            else "終結後のフォローアップ（予定日未設定）"
        )
        items.append(
            WorklistItem(
                **base,
                kind=FOLLOW_UP,
                due_on=due or changed,
                label=label,
                agency_id=closure.get("lead_agency_id"),
            )
        )
    return items


def project_case_worklist(session: Session, case: SupportCase) -> None:
    """Replace the worklist items of one support case."""
    replace_items(session, str(case.id), case_items(case))
