"""The host aggregate: a social resource (受け入れ先) in a municipality's register (R-PAR-3).

A host is an organisation that takes people in: a place of work experience, a place to belong,
housing and so on. Its contact is the business contact of the organisation, not personal data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event

from service.domain.errors import RuleViolation
from service.domain.values import Actor

Json = dict[str, Any]


class HostKind(StrEnum):
    """What a host offers (R-PAR-3: work experience, places to belong, housing…)."""

    work_experience = "work_experience"
    place_to_belong = "place_to_belong"
    housing = "housing"
    learning = "learning"
    volunteering = "volunteering"
    other = "other"


HOST_KIND_LABELS = {
    "work_experience": "就労体験",
    "place_to_belong": "居場所",
    "housing": "住まい",
    "learning": "学び",
    "volunteering": "ボランティア活動",
    "other": "その他",
}


class HostStatus(StrEnum):
    """An active host takes people in; a retired one stays in the register for history."""

    active = "active"
    retired = "retired"


HOST_STATUS_LABELS = {"active": "受入可能", "retired": "登録終了"}

_CONTACT_FIELDS = ("organisation", "department", "phone", "email", "address")
_UPDATABLE = ("name", "kind", "capacity", "contact", "fields_of_activity")


class Host(Aggregate):
    """One host of the municipality's register of social resources (R-PAR-3)."""

    @event("HostRegistered")
    def __init__(
        self,
        municipality_id: str,
        actor: Json,
        name: str,
        kind: str,
        capacity: int | None,
        contact: Json,
        fields_of_activity: list[str],
    ) -> None:
        self.municipality_id = municipality_id
        self.registered_by = actor
        self.name = name
        self.kind = kind
        self.capacity = capacity
        self.contact = contact
        self.fields_of_activity = fields_of_activity
        self.status = str(HostStatus.active)
        self.retirement: Json | None = None

    @classmethod
    def register(
        cls,
        actor: Actor,
        *,
        name: str,
        kind: str,
        capacity: int | None = None,
        contact: Json | None = None,
        fields_of_activity: list[str] | None = None,
    ) -> Host:
        """Register a host after checking its name, kind and capacity (R-PAR-3)."""
        return cls(
            municipality_id=actor.municipality_id,
            actor=actor.as_dict(),
            **_checked(
                {
                    "name": name,
                    "kind": kind,
                    "capacity": capacity,
                    "contact": contact or {},
                    "fields_of_activity": fields_of_activity or [],
                }
            ),
        )

    @property
    def active(self) -> bool:
        """Return whether the host takes people in."""
        return self.status == HostStatus.active

    def update(self, actor: Actor, changes: Json) -> None:
        """Change some of the host's fields; fields left out keep their value."""
        self._require_active()
        unknown = set(changes) - set(_UPDATABLE)
        if unknown:
            raise RuleViolation(
                f"unknown host fields: {', '.join(sorted(unknown))}",
                code="invalid_host_field",
                rules=("R-PAR-3",),
            )
        current = {name: getattr(self, name) for name in _UPDATABLE}
        checked = _checked({**current, **changes})
        changed = {name: checked[name] for name in changes if checked[name] != current[name]}
        if not changed:
            return
        self._updated(actor=actor.as_dict(), changes=changed)

    @event("HostUpdated")
    def _updated(self, actor: Json, changes: Json) -> None:
        for name, value in changes.items():
            setattr(self, name, value)

    def retire(self, actor: Actor, *, retired_on: str, reason: str) -> None:
        """Take the host out of matching; it stays in the register (R-PAR-3)."""
        self._require_active()
        if not reason.strip():
            raise RuleViolation(
                "retiring a host records the reason",
                code="host_retirement_reason_required",
                rules=("R-PAR-3",),
            )
        self._retired(actor=actor.as_dict(), retired_on=retired_on, reason=reason)

    @event("HostRetired")
    def _retired(self, actor: Json, retired_on: str, reason: str) -> None:
        self.status = str(HostStatus.retired)
        self.retirement = {"actor": actor, "retired_on": retired_on, "reason": reason}

    def _require_active(self) -> None:
        if not self.active:
            raise RuleViolation(
                "the host has been retired from the register",
                code="host_retired",
                rules=("R-PAR-3",),
            )


def _checked(fields: Json) -> Json:
    name = fields.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RuleViolation("a host has a name", code="host_name_required", rules=("R-PAR-3",))
    try:
        kind = HostKind(str(fields.get("kind")))
    except ValueError:
        raise RuleViolation(
            f"unknown host kind {fields.get('kind')!r}; one of: {', '.join(HostKind)}",
            code="invalid_host_kind",
            rules=("R-PAR-3",),
        ) from None
    capacity = fields.get("capacity")
    if capacity is not None and (
        isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 0
    ):
        raise RuleViolation(
            "a host's capacity is a number of people, zero or more",
            code="invalid_host_capacity",
            rules=("R-PAR-3",),
        )
    contact = fields.get("contact") or {}
    if not isinstance(contact, dict) or not set(contact) <= set(_CONTACT_FIELDS):
        raise RuleViolation(
            f"a host's contact has only the fields: {', '.join(_CONTACT_FIELDS)}",
            code="invalid_host_contact",
            rules=("R-PAR-3",),
        )
    activities = fields.get("fields_of_activity") or []
    if not isinstance(activities, list) or not all(isinstance(a, str) for a in activities):
        raise RuleViolation(
            "fields of activity are a list of words",
            code="invalid_host_fields_of_activity",
            rules=("R-PAR-3",),
        )
    return {
        "name": name.strip(),
        "kind": str(kind),
        "capacity": capacity,
        "contact": {k: str(v) for k, v in contact.items()},
        "fields_of_activity": [a.strip() for a in activities if a.strip()],
    }
