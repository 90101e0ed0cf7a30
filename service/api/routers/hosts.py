"""The municipality's register of hosts (受け入れ先) of participation support (R-PAR-3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from service.api.deps import App, CurrentActor, GuardedRoute, IfMatch, PathId, permit
from service.api.problems import PROBLEMS
from service.api.schemas.common import CODE_PATTERN
from service.api.schemas.registers import (
    HostAccepted,
    HostChange,
    HostCreate,
    HostPage,
    HostRetirement,
    HostView,
)
from service.domain.host import Host

router = APIRouter(prefix="/hosts", tags=["hosts"], responses=PROBLEMS, route_class=GuardedRoute)


def _accepted(host: Host, response: Response) -> HostAccepted:
    response.headers["ETag"] = f'"{host.version}"'
    return HostAccepted(host_id=str(host.id), version=host.version, status=host.status)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="受け入れ先の登録 (R-PAR-3)",
    dependencies=[Depends(permit("register_host"))],
)
def register_host(
    body: HostCreate, actor: CurrentActor, app: App, response: Response
) -> HostAccepted:
    """Add a host to the municipality's register of social resources."""
    data = body.model_dump(mode="json")
    data["contact"] = {k: v for k, v in data["contact"].items() if v}
    host = app.register_host(actor, **data)
    response.headers["Location"] = f"/hosts/{host.id}"
    return _accepted(host, response)


@router.post(
    "/{host_id}/changes",
    summary="受け入れ先の変更 (R-PAR-3)",
    dependencies=[Depends(permit("update_host"))],
)
def update_host(
    host_id: PathId,
    body: HostChange,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> HostAccepted:
    """Change some of the host's fields; fields left out keep their value."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"expected_version"})
    if isinstance(changes.get("contact"), dict):
        changes["contact"] = {k: v for k, v in changes["contact"].items() if v}
    expected = if_match if if_match is not None else body.expected_version
    return _accepted(app.update_host(actor, host_id, expected, changes), response)


@router.post(
    "/{host_id}/retirement",
    summary="受け入れ先の登録終了 (R-PAR-3)",
    dependencies=[Depends(permit("retire_host"))],
)
def retire_host(
    host_id: PathId,
    body: HostRetirement,
    actor: CurrentActor,
    app: App,
    if_match: IfMatch,
    response: Response,
) -> HostAccepted:
    """Take the host out of matching; it stays in the register."""
    expected = if_match if if_match is not None else body.expected_version
    host = app.retire_host(
        actor, host_id, expected, retired_on=body.retired_on.isoformat(), reason=body.reason
    )
    return _accepted(host, response)


@router.get("", summary="受け入れ先一覧", dependencies=[Depends(permit("list_hosts"))])
def host_list(
    actor: CurrentActor,
    app: App,
    kind: Annotated[str | None, Query(pattern=CODE_PATTERN, description="Filter by kind")] = None,
    status: Annotated[
        str | None,
        Query(pattern=CODE_PATTERN, description="Filter by status (active, retired)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**63 - 1, description="Offset")] = 0,
) -> HostPage:
    """List the municipality's hosts by name."""
    page = app.list_hosts(actor, kind=kind, status=status, limit=limit, offset=offset)
    return HostPage.model_validate(page)


@router.get("/{host_id}", summary="受け入れ先の詳細", dependencies=[Depends(permit("read_host"))])
def host_detail(host_id: PathId, actor: CurrentActor, app: App) -> HostView:
    """Return one host of the register."""
    return HostView.model_validate(app.host_view(actor, host_id))
