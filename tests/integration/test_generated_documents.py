"""The committed OpenAPI document and the README's diagram are generated, never edited by hand."""

from __future__ import annotations

import json

from service.cli import DIAGRAM, OPENAPI, README, openapi_document, readme_with_diagram
from service.domain.workflow import support_case_workflow


def test_openapi_document_matches_the_app() -> None:
    """`kasane openapi` output equals openapi/openapi.json (run it after an API change)."""
    assert OPENAPI.read_text(encoding="utf-8") == openapi_document()


def test_readme_and_diagram_file_match_the_workflow_definition() -> None:
    """`kasane diagram` output equals the README block and workflows/support_case.mmd."""
    mermaid = support_case_workflow().mermaid()
    readme = README.read_text(encoding="utf-8")
    assert readme == readme_with_diagram(readme, mermaid)
    assert DIAGRAM.read_text(encoding="utf-8") == mermaid
    for label in support_case_workflow().state_labels.values():
        assert label in readme


def _schemas_without_description(document: dict) -> list[str]:
    missing = []
    for name, schema in document["components"]["schemas"].items():
        if "description" not in schema:
            missing.append(name)
        for field, spec in schema.get("properties", {}).items():
            if "description" not in spec:
                missing.append(f"{name}.{field}")
    return missing


def test_every_schema_and_field_has_a_description() -> None:
    """Integrators read the OpenAPI document: every schema and field says what it is."""
    document = json.loads(openapi_document())
    assert _schemas_without_description(document) == []


def test_enums_carry_japanese_labels() -> None:
    """Enums of states, roles, meeting kinds and timings list their Japanese labels."""
    text = openapi_document()
    for label in ("紹介受付", "多機関協働事業者", "重層的支援会議", "A プラン策定時", "支援会議"):
        assert label in text
