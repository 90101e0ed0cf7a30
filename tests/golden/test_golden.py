"""Issue #7, fault test 4: recorded event histories replay to byte-identical read models and
aggregate states, and every event type of the domain has a recorded history.

Re-record with `python -m tests.golden.record` (see tests/golden/record.py) after a deliberate
change to what events rebuild to, and review the diff.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import Any

import pytest
from eventsourcing.domain import Aggregate, CanMutateAggregate

import service.domain
from service.application.kasane import Kasane
from tests.golden.history import HISTORIES, canonical, read_models, replay, states
from tests.golden.scenarios import SCENARIOS, environment

RECORDED = sorted(p.stem for p in HISTORIES.glob("*.json"))
# The bases every aggregate class gets from eventsourcing; never stored as such here.
GENERIC_EVENT_CLASSES = ("Event", "Created")


def _history(name: str) -> dict[str, Any]:
    history: dict[str, Any] = json.loads((HISTORIES / f"{name}.json").read_text(encoding="utf-8"))
    return history


def domain_event_topics() -> set[str]:
    """Return the topic of every event class of every aggregate in service/domain."""
    topics = set()
    for module_info in pkgutil.iter_modules(service.domain.__path__):
        module = importlib.import_module(f"service.domain.{module_info.name}")
        for aggregate in vars(module).values():
            if not (
                inspect.isclass(aggregate)
                and issubclass(aggregate, Aggregate)
                and aggregate.__module__ == module.__name__
            ):
                continue
            for name, event_class in vars(aggregate).items():
                if (
                    inspect.isclass(event_class)
                    and issubclass(event_class, CanMutateAggregate)
                    and name not in GENERIC_EVENT_CLASSES
                ):
                    topics.add(f"{module.__name__}:{aggregate.__qualname__}.{name}")
    return topics


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_history_replays_to_identical_read_models_and_states(
    name: str, database_url: str
) -> None:
    """The events, sealed again and read back through the mapper (upcasting included), rebuild
    exactly the recorded read-model rows and aggregate states (SQLite or PostgreSQL)."""
    history = _history(name)
    app = Kasane(database_url)
    try:
        with environment(name):
            replay(app, history["events"])
            rebuilt_states = states(app, list(history["states"]))
        assert canonical(read_models(app)) == canonical(history["read_models"])
        assert canonical(rebuilt_states) == canonical(history["states"])
    finally:
        app.engine.dispose()


def test_every_event_type_of_the_domain_has_a_golden_history() -> None:
    """A new event class fails this test until a scenario records a history with it."""
    covered = {e["topic"] for name in RECORDED for e in _history(name)["events"]}
    missing = sorted(domain_event_topics() - covered)
    assert not missing, (
        "event types without a golden history (add a scenario to tests/golden/scenarios.py, "
        "then run `python -m tests.golden.record`):\n" + "\n".join(missing)
    )


def test_every_scenario_has_its_recorded_history_and_no_other_is_kept() -> None:
    """Scenarios and recorded histories match one to one."""
    assert sorted(SCENARIOS) == RECORDED
