"""Worklists of what is due (R-SUP-1, R-SUP-2, R-SUS-2), read from the worklist items view.

The view stores each item with its due date only; "today" comes from the application's clock
(or the `as_of` day asked for), so an item becomes overdue without any timer or rewrite.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select

from service.domain.permissions import authorize
from service.domain.values import Actor
from service.persistence.tables import worklist_items
from service.projections.worklists import COUNTED_FROM_LAST_CONTACT, KIND_LABELS

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from service.clock import Clock

Json = dict[str, Any]

DEFAULT_NO_CONTACT_DAYS = 30


class WorklistQueries:
    """Mixed into `Kasane`; uses its `engine` and `clock`."""

    if TYPE_CHECKING:
        clock: Clock

        @property
        def engine(self) -> Engine: ...

    def worklist(
        self,
        actor: Actor,
        *,
        mine: bool = False,
        kind: str | None = None,
        agency_id: str | None = None,
        overdue_only: bool = False,
        as_of: date | None = None,
        no_contact_days: int = DEFAULT_NO_CONTACT_DAYS,
        limit: int = 50,
        offset: int = 0,
    ) -> Json:
        """Return what is due, overdue first, then by due date (R-SUP-2).

        `mine` keeps the items of the caller's agency and those left to the caller's role as a
        whole; otherwise the whole municipality's, optionally of one `agency_id`. A case with no
        recorded contact is due `no_contact_days` after its last contact (R-SUS-2).
        """
        authorize(actor.role, "list_my_worklist" if mine else "list_worklist")
        today = as_of or self.clock.today()
        t = worklist_items.c
        where: list[Any] = [t.municipality_id == actor.municipality_id]
        if kind:
            where.append(t.kind == kind)
        if mine:
            where.append(
                or_(
                    t.agency_id == actor.agency_id,
                    and_(t.agency_id.is_(None), t.role == actor.role),
                )
            )
        elif agency_id:
            where.append(t.agency_id == agency_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(worklist_items).where(*where)).mappings().all()
        items = [worklist_entry(dict(row), today, no_contact_days) for row in rows]
        if overdue_only:
            items = [i for i in items if i["overdue"]]
        items.sort(key=lambda i: (not i["overdue"], i["due_on"], i["case_id"], i["kind"]))
        page = items[offset : offset + limit]
        return {
            "as_of": today.isoformat(),
            "no_contact_days": no_contact_days,
            "items": page,
            "total": len(items),
            "limit": limit,
            "offset": offset,
        }


def days_after(day: date, days: int) -> date:
    """Return `day` plus `days`, the last representable day where that would overflow.

    Commands refuse dates past 2100, but events stored before that limit may hold any date
    (9999-12-25 once): one such record must not take the whole worklist down.
    """
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def worklist_entry(row: Json, today: date, no_contact_days: int) -> Json:
    """Return one stored item as listed on `today`: its due date, whether and how long overdue."""
    due: date = row["due_on"]
    if row["kind"] in COUNTED_FROM_LAST_CONTACT:
        due = days_after(due, no_contact_days)
    late = (today - due).days
    return {
        "case_id": row["case_id"],
        "kind": row["kind"],
        "kind_label": KIND_LABELS.get(row["kind"], row["kind"]),
        "label": row["label"],
        "due_on": due.isoformat(),
        "overdue": late > 0,
        "days_overdue": max(late, 0),
        "agency_id": row["agency_id"],
        "role": row["role"],
    }
