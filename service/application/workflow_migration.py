"""Moving running cases to another version of their workflow, with an explicit state mapping.

Each moved case gets a `WorkflowMigrated` event, saved like any command: on the version the
case was loaded at, so a change saved meanwhile makes that case a conflict, not a lost update.
A case whose state has no mapping, or whose mapped state the target version lacks, is refused:
reported, and nothing is written for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from uuid import UUID

from sqlalchemy import select

from service.domain.case import SupportCase
from service.domain.errors import DomainError
from service.domain.permissions import authorize
from service.domain.values import Actor, Role
from service.domain.workflow import Workflow, workflow_version
from service.persistence.tables import case_list

if TYPE_CHECKING:
    from service.application.kasane import Kasane

OPERATOR_AGENCY = "kasane-cli"

MIGRATED = "migrated"
WOULD_MIGRATE = "would_migrate"
REFUSED = "refused"
CONFLICT = "conflict"
UNCHANGED = "unchanged"
FINISHED = "finished"


@dataclass(frozen=True)
class CaseMigration:
    """What happened (or, in a dry run, would happen) to one case."""

    case_id: str
    municipality_id: str
    from_version: int
    from_state: str
    to_state: str | None
    outcome: str
    detail: str = ""


def plan_mapping(
    target: Workflow, mapping: Mapping[str, str], keep_same: bool = False
) -> dict[str, str]:
    """Return the state mapping to apply; `keep_same` maps each state the target also has to
    itself, unless the explicit mapping says otherwise."""
    result = {s: s for s in target.states} if keep_same else {}
    result.update(mapping)
    return result


def migrate_cases(
    app: Kasane,
    *,
    name: str,
    to_version: int,
    mapping: Mapping[str, str],
    reason: str,
    municipality_id: str | None = None,
    actor: Actor | None = None,
    dry_run: bool = False,
) -> list[CaseMigration]:
    """Move every running case (of one municipality, or all) to `to_version` of `name`.

    `actor` is who migrates (authorised for `migrate_workflow`); without one, the command
    line's operator acts as each case's municipality. Finished cases (a final state) and cases
    already at the version are left alone and reported.
    """
    if name != "support_case":
        raise DomainError(f"no aggregate runs workflow {name}", code="unknown_workflow")
    target = workflow_version(to_version, name)
    if actor is not None:
        authorize(actor.role, "migrate_workflow")
        municipality_id = actor.municipality_id
    query = select(case_list.c.case_id, case_list.c.municipality_id).order_by(
        case_list.c.municipality_id, case_list.c.referred_at, case_list.c.case_id
    )
    if municipality_id is not None:
        query = query.where(case_list.c.municipality_id == municipality_id)
    with app.engine.connect() as conn:
        cases = [(r.case_id, r.municipality_id) for r in conn.execute(query)]
    return [
        _migrate_one(app, case_id, tenant, target, mapping, reason, actor, dry_run)
        for case_id, tenant in cases
    ]


def _migrate_one(
    app: Kasane,
    case_id: str,
    municipality_id: str,
    target: Workflow,
    mapping: Mapping[str, str],
    reason: str,
    actor: Actor | None,
    dry_run: bool,
) -> CaseMigration:
    case: SupportCase = app.repository.get(UUID(case_id))
    source = case.workflow

    def report(outcome: str, to_state: str | None = None, detail: str = "") -> CaseMigration:
        return CaseMigration(
            case_id, municipality_id, source.version, case.state, to_state, outcome, detail
        )

    if source.version == target.version:
        return report(UNCHANGED, case.state, "already at this version")
    if source.document["states"][case.state].get("final"):
        return report(FINISHED, None, "the case has ended; it keeps its version")
    to_state = mapping.get(case.state)
    if to_state is None:
        return report(REFUSED, None, f"no mapping for state '{case.state}'")
    if to_state not in target.states:
        return report(REFUSED, to_state, f"version {target.version} has no state '{to_state}'")
    if dry_run:
        return report(WOULD_MIGRATE, to_state)
    who = actor or Actor(municipality_id, OPERATOR_AGENCY, Role.municipality)
    try:
        case.migrate_workflow(who, target, to_state, reason)
        app._commit(case)
    except DomainError as exc:  # a version conflict, or a refusal of the case itself
        outcome = CONFLICT if exc.code == "version_conflict" else REFUSED
        return report(outcome, to_state, exc.message)
    return report(MIGRATED, to_state)
