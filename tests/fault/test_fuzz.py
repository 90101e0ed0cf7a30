"""Issue #7, fault test 3: schemathesis over the committed OpenAPI document, every operation
as every role, against the ASGI app in process: no 5xx, every response as documented, every
4xx an RFC 9457 problem document."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from service.domain.values import Role
from service.main import create_app
from service.settings import Settings
from tests.fault.support import CASE, explanation

DOCUMENT = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
PROBLEM_JSON = "application/problem+json"
CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance]
CREDENTIALS = ("authorization", "x-api-key")  # the role's key replaces generated ones
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE


def _permitted(operation: Any, document: dict[str, Any]) -> set[Role]:
    """Return the roles the document says may perform the operation (public: every role)."""
    permission = document["paths"][operation.path][operation.method.lower()]["x-permission"]
    if permission.get("public"):
        return set(Role)
    return {Role(r) for r in permission["roles"]}


def _check(case: Any, response: Any, mode: GenerationMode) -> None:
    """No 5xx; every 4xx a problem document; a response to valid input as documented."""
    status = response.status_code
    assert status < 500, f"{status}: {response.text[:500]}"
    if 400 <= status < 500:
        content_type = response.headers.get("content-type", [""])[0]  # values are lists
        assert content_type.startswith(PROBLEM_JSON), f"{status} as {content_type}"
        body = response.json()
        assert body["status"] == status and body["code"] and body["title"], body
    if mode is POSITIVE or status < 400:
        case.validate_response(response, checks=CHECKS)


class Fuzzer:
    """Runs a bounded, derandomized batch of generated requests and collects what failed."""

    def __init__(self, app: Any, keys: dict[Role, str]) -> None:
        self.app = app
        self.keys = keys
        self.failures: list[str] = []
        self.statuses: Counter[int] = Counter()

    def run(
        self,
        operation: Any,
        role: Role,
        mode: GenerationMode,
        examples: int,
        path_parameters: dict[str, str] | None = None,
    ) -> None:
        """Send `examples` generated requests of `operation` as `role`."""
        strategy = operation.as_strategy(generation_mode=mode, path_parameters=path_parameters)

        @settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            phases=("generate",),
        )
        @given(case=strategy)
        def send(case: Any) -> None:
            case.headers = {
                k: v for k, v in (case.headers or {}).items() if k.lower() not in CREDENTIALS
            }
            response = case.call(app=self.app, headers={"X-API-Key": self.keys[role]})
            self.statuses[response.status_code] += 1
            try:
                _check(case, response, mode)
            except (Exception, BaseExceptionGroup) as exc:  # collected, reported at the end
                where = f"{operation.label} as {role} ({mode}, {path_parameters or 'random ids'})"
                parts = exc.exceptions if isinstance(exc, BaseExceptionGroup) else (exc,)
                detail = "; ".join(f"{type(e).__name__}: {e}" for e in parts)
                self.failures.append(f"{where}: {detail}"[:1500])

        # Unsatisfiable: nothing invalid to send, for an operation without any input.
        with contextlib.suppress(Unsatisfiable):
            send()


def test_fuzzing_every_operation_as_every_role_finds_no_5xx_and_only_documented_answers(
    database_url: str, make_api_key: Callable[[str, Role], str]
) -> None:
    """Every operation of the document on disk (routes added later included), as every role:
    a permitted role sends valid requests on a real case's id and on random ids, and invalid
    ones; any other role valid ones (refused before the body is read). Derandomized and
    bounded, so that a run is repeatable."""
    document = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    app = create_app(Settings(database_url=database_url, rate_limit_per_minute=0))
    keys = {role: make_api_key("demo-city", role) for role in Role}
    with TestClient(app) as client:
        created = client.post("/cases", json=CASE, headers={"X-API-Key": keys[Role.coordinator]})
        assert created.status_code == 201, created.text
        case_id = created.json()["case_id"]
        client.post(
            f"/cases/{case_id}/explanations",
            json=explanation("fuzz"),
            headers={"X-API-Key": keys[Role.coordinator]},
        )
    fuzzer = Fuzzer(app, keys)
    schema = schemathesis.openapi.from_path(DOCUMENT)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in document["paths"].values())
    for operation in operations:
        permitted = _permitted(operation, document)
        names = {p.name for p in operation.path_parameters}
        for role in Role:
            if role not in permitted:
                fuzzer.run(operation, role, POSITIVE, 1)
                continue
            if "case_id" in names:
                fuzzer.run(operation, role, POSITIVE, 2, {"case_id": case_id})
                fuzzer.run(operation, role, POSITIVE, 1)
            else:
                fuzzer.run(operation, role, POSITIVE, 2)
            fuzzer.run(operation, role, NEGATIVE, 1)
    assert not fuzzer.failures, "\n".join(fuzzer.failures)
    # The batch reached past the gates: accepted requests and refusals of each kind.
    assert fuzzer.statuses[200] and fuzzer.statuses[403] and fuzzer.statuses[404]
    assert fuzzer.statuses[422]
