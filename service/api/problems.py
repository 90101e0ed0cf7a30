"""The problem responses every router documents (RFC 9457, application/problem+json)."""

from __future__ import annotations

from typing import Any

from service.api.schemas.common import Problem

_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "No, unknown, revoked or expired credential"},
    403: {
        **_PROBLEM,
        "description": "The role may not do this, or the agency takes no part in the case",
    },
    404: {**_PROBLEM, "description": "No such case in this municipality"},
    409: {**_PROBLEM, "description": "Refused by the workflow or a stale expected version"},
    412: {**_PROBLEM, "description": "If-Match names a stale version"},
    413: {**_PROBLEM, "description": "Request body over the size cap"},
    422: {**_PROBLEM, "description": "Malformed request or a rule not met"},
    429: {**_PROBLEM, "description": "Rate limit of the credential exceeded (Retry-After)"},
}
