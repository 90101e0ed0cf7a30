"""Issue 11: every field of every event, aggregate state, read-model document and command body
has a class (service/domain/classification.py), so a new field cannot slip through unprotected.

The events, states and documents are those of the golden histories (every event type of the
domain has one, tests/golden/test_golden.py); the bodies are every request model of the API.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import service.api.schemas as schemas
from service.domain.classification import (
    FIELD_CLASSES,
    DataClass,
    class_of,
    transform,
    undeclared_keys,
    workflow_facts,
)

HISTORIES = Path(__file__).parents[1] / "golden" / "histories"
# Aggregates whose records are the register's (organisations, not persons): not classified here.
UNCLASSIFIED_AGGREGATES = (":Host.",)
# The library's own keys of an event's state, and the JSON form of its values.
LIBRARY_KEYS = {"timestamp", "originator_topic", "class_version", "_type_", "_data_"}


def _histories() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(HISTORIES.glob("*.json"))]


def _without_library_keys(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k not in LIBRARY_KEYS}


def test_every_field_of_every_recorded_event_has_a_class() -> None:
    """Issue 11 (1): the payload of every event of every golden history is fully classified."""
    missing: dict[str, set[str]] = {}
    for history in _histories():
        for event in history["events"]:
            if any(name in event["topic"] for name in UNCLASSIFIED_AGGREGATES):
                continue
            found = undeclared_keys(_without_library_keys(event["state"]))
            if found:
                missing.setdefault(event["topic"], set()).update(found)
    assert missing == {}


def test_every_field_of_every_aggregate_state_and_read_model_has_a_class() -> None:
    """Issue 11 (1): the states the events rebuild to and every read-model document too."""
    missing: set[str] = set()
    for history in _histories():
        for aggregate in history["states"].values():
            if aggregate["class"] in ("Host",):
                continue
            attributes = {k.lstrip("_"): v for k, v in aggregate["attributes"].items()}
            missing |= {f"{aggregate['class']}.{p}" for p in undeclared_keys(attributes)}
        for table in ("case_detail", "engagement_detail", "meeting_list", "community_issue_list"):
            for row in history["read_models"][table]:
                document = json.loads(row["document"])
                missing |= {f"{table}.{p}" for p in undeclared_keys(document)}
    assert missing == set()


def _models() -> list[type[BaseModel]]:
    found = []
    for info in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module(f"{schemas.__name__}.{info.name}")
        found += [
            c
            for c in vars(module).values()
            if inspect.isclass(c) and issubclass(c, BaseModel) and c.__module__ == module.__name__
        ]
    return found


def _nested(annotation: Any) -> list[type[BaseModel]]:
    if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested(arg)]


# Bodies of the registers (hosts) and answers of the API that are not records of a case.
NOT_CASE_RECORDS = {
    "HostCreate",
    "HostChange",
    "HostContact",
    "HostRetirement",
    "HostAccepted",
    "HostView",
    "HostPage",
    "Problem",
    "StateReport",
    "IssuePage",
    "IssueView",
    "IssueAccepted",
}
# What a request or an answer carries besides the record itself.
ENVELOPE_KEYS = {"expected_version", "items", "total", "limit", "offset", "label", "position"}


@pytest.mark.parametrize("model", _models(), ids=lambda m: m.__name__)
def test_every_field_of_every_body_and_view_model_has_a_class(model: type[BaseModel]) -> None:
    """Issue 11 (1): a command body or view field without a class fails here."""
    if model.__name__ in NOT_CASE_RECORDS:
        pytest.skip("a register's or report's model, not a case's record")
    missing = [
        name
        for name, info in model.model_fields.items()
        if (info.alias or name) not in FIELD_CLASSES and name not in ENVELOPE_KEYS
    ]
    assert missing == []
    for info in model.model_fields.values():
        for nested in _nested(info.annotation):
            assert nested.__name__ in {m.__name__ for m in _models()}


def test_free_text_is_never_a_workflow_fact() -> None:
    """Issue 11 (1): every free-text field of the case's bodies is identity, sensitive or
    council (a `str` without a code list, a date or an id pattern)."""
    ids_and_codes = {
        k for k, v in FIELD_CLASSES.items() if v is DataClass.workflow
    }  # the workflow strings: ids, codes and dates only
    for model in _models():
        if model.__name__ in NOT_CASE_RECORDS:
            continue
        for name, info in model.model_fields.items():
            if info.annotation in (str, str | None, list[str]) and name in ids_and_codes:
                assert name.endswith(
                    ("_id", "_ids", "_kind", "_on", "_at", "_label", "_due")
                ) or name in {
                    "state",
                    "state_label",
                    "kind",
                    "kind_label",
                    "service",
                    "service_label",
                    "basis",
                    "referred_at",
                    "updated_at",
                    "recorded_at",
                    "started_on",
                    "next_contact_due",
                    "type",
                    "held_on",
                    "version",
                    "timing",
                    "outcome",
                    "route",
                    "given_by",
                    "party",
                    "meeting_format",
                    "allowed_commands",
                    "agencies",
                    "reused_council",
                }, f"{model.__name__}.{name} is free text classed as a workflow fact"


def test_an_undeclared_key_is_sealed_and_kept_out_of_the_feed() -> None:
    """Issue 11 (1): a field nobody classified fails closed: protected, not published."""
    assert class_of("never_declared_field") is None
    payload = {"state": "referred", "never_declared_field": "秘密", "referral": {"route": "x"}}
    assert workflow_facts(payload) == {"state": "referred", "referral": {"route": "x"}}
    seen: list[str] = []
    transform(payload, lambda path, cls, value, subject: seen.append(path) or value)
    assert seen == ["never_declared_field"]


def test_the_council_referral_reason_is_the_councils_secret() -> None:
    """R-CON-2: why a case went to the support council is council-class, not just sensitive."""
    assert class_of("reason", "ReferredToCouncil") is DataClass.council
    assert class_of("council_referral") is DataClass.council
    assert class_of("reason", "CaseSuspended") is DataClass.sensitive


def test_the_readme_lists_every_class_with_its_fields() -> None:
    """Issue 11: the README's table of classes is `kasane classes` output (a drift test)."""
    from service.cli import CLASSES_BEGIN, CLASSES_END, README, class_table, readme_with_block

    readme = README.read_text(encoding="utf-8")
    assert CLASSES_BEGIN in readme
    assert readme == readme_with_block(readme, CLASSES_BEGIN, CLASSES_END, class_table())
