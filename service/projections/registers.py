"""Views of the municipality registers: hosts (R-PAR-3) and community issues (R-RES-1)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.domain.community_issue import CommunityIssue
from service.domain.host import Host
from service.persistence.crypto import KeyStore
from service.persistence.sealing import STREAM_SUBJECT, seal_fields
from service.persistence.tables import community_issue_list, host_list


def host_document(host: Host) -> dict[str, Any]:
    """Return the host as stored in the view."""
    return {
        "host_id": str(host.id),
        "name": host.name,
        "kind": host.kind,
        "capacity": host.capacity,
        "contact": host.contact,
        "fields_of_activity": host.fields_of_activity,
        "status": host.status,
        "retirement": host.retirement,
        "registered_by": host.registered_by,
        "registered_at": host.created_on.isoformat(),
        "updated_at": host.modified_on.isoformat(),
        "version": host.version,
    }


def project_host(session: Session, host: Host) -> None:
    """Write the host's row of the register."""
    host_id = str(host.id)
    session.execute(delete(host_list).where(host_list.c.host_id == host_id))
    session.execute(
        insert(host_list).values(
            host_id=host_id,
            municipality_id=host.municipality_id,
            name=host.name,
            kind=host.kind,
            status=host.status,
            registered_on=host.created_on.date().isoformat(),
            document=json.dumps(host_document(host), ensure_ascii=False),
        )
    )


def issue_document(issue: CommunityIssue) -> dict[str, Any]:
    """Return the issue as stored in the view (case ids included; readers are filtered later)."""
    return {
        "issue_id": str(issue.id),
        "text": issue.text,
        "status": issue.status,
        "first_raised_on": issue.raised_on,
        "last_raised_on": issue.last_raised_on,
        "raisings": issue.raisings,
        "status_history": issue.status_history,
        "version": issue.version,
    }


def project_community_issue(session: Session, issue: CommunityIssue, keys: KeyStore) -> None:
    """Write the issue's row of the municipality's list; its text sealed with its own key."""
    issue_id = str(issue.id)
    session.execute(delete(community_issue_list).where(community_issue_list.c.issue_id == issue_id))
    session.execute(
        insert(community_issue_list).values(
            issue_id=issue_id,
            municipality_id=issue.municipality_id,
            status=issue.status,
            first_raised_on=issue.raised_on,
            last_raised_on=issue.last_raised_on,
            document=json.dumps(
                seal_fields(
                    keys,
                    issue_id,
                    issue_document(issue),
                    None,
                    "read-model",
                    STREAM_SUBJECT,
                    session.connection(),
                ),
                ensure_ascii=False,
            ),
        )
    )
