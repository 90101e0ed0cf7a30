"""The workflow definition `workflows/support_case.yaml` and the `Workflow` that loads it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
import yaml
from statemachine.exceptions import TransitionNotAllowed

from service.domain.errors import CommandNotAllowed, GateRefused
from service.domain.workflow import (
    SUPPORT_CASE,
    Workflow,
    machine_document,
    support_case_workflow,
)
from tests.unit.support import ALLOWED

RULE_ID = re.compile(r"^R-[A-Z]{3}-\d+$")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")

EXPECTED_STATES = {
    "referred",
    "council_track",
    "assessment",
    "planning",
    "awaiting_decision",
    "in_support",
    "replanning",
    "closed",
    "suspended",
    "returned_to_referrer",
}


@pytest.fixture(scope="module")
def document() -> dict:
    with SUPPORT_CASE.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def test_definition_loads(wf: Workflow) -> None:
    """The YAML loads into a Workflow whose initial state is the referral."""
    assert wf.name == "support_case"
    assert wf.version == 1
    assert wf.initial == "referred"
    assert set(wf.states) == EXPECTED_STATES
    assert support_case_workflow() is wf  # loaded once


def test_every_referenced_guard_is_declared(wf: Workflow, document: dict) -> None:
    """Every guard named on a transition is declared under `guards:`."""
    referenced = {
        guard
        for spec in document["states"].values()
        for item in spec.get("transitions", [])
        for guard in item.get("guards", [])
    }
    assert referenced
    assert referenced <= set(document["guards"])
    assert referenced <= set(wf.guards)


def test_every_declared_guard_is_used(wf: Workflow) -> None:
    """No declared guard is dead: each appears on some transition."""
    used = {g for t in wf.transitions for g in t.guards}
    assert set(wf.guards) == used


def test_unknown_guard_is_rejected_when_loading(document: dict) -> None:
    """A transition naming an undeclared guard does not load."""
    broken = yaml.safe_load(yaml.safe_dump(document))
    broken["states"]["referred"]["transitions"][3]["guards"] = ["no_such_guard"]
    with pytest.raises(ValueError, match="no_such_guard"):
        Workflow(broken)


def test_every_non_selector_guard_has_a_code_and_rules(wf: Workflow) -> None:
    """A guard that can refuse carries a stable error code and the rule IDs it enforces."""
    refusing = [g for g in wf.guards.values() if not g.selector]
    assert len(refusing) >= 15
    for guard in refusing:
        assert guard.code and re.fullmatch(r"[a-z_]+", guard.code), guard.name
        assert guard.rules, guard.name
        assert all(RULE_ID.match(rule) for rule in guard.rules), guard.name
        assert JAPANESE.search(guard.label), guard.name


def test_selector_guards_have_no_code(wf: Workflow) -> None:
    """Selectors only choose between transitions; they never refuse on their own."""
    selectors = {g.name for g in wf.guards.values() if g.selector}
    assert selectors == {
        "withdraws_application",
        "keeps_application",
        "plan_needs_support_decision",
        "plan_needs_no_support_decision",
        "decision_granted",
        "decision_refused_first_plan",
        "decision_refused_replan",
    }
    assert all(wf.guards[s].code is None for s in selectors)


def test_every_state_has_a_japanese_label_and_rules(wf: Workflow) -> None:
    """States are labelled in Japanese for the users and cite the rules they implement."""
    for state in wf.states:
        assert JAPANESE.search(wf.state_labels[state]), state
        assert wf.state_rules[state], state
        assert all(RULE_ID.match(r) for r in wf.state_rules[state]), state


def test_every_transition_targets_a_state_and_has_a_japanese_label(wf: Workflow) -> None:
    """Transitions go between declared states, with Japanese labels."""
    for t in wf.transitions:
        assert t.source in EXPECTED_STATES and t.target in EXPECTED_STATES, t
        assert JAPANESE.search(t.label), t
        if t.internal:
            assert t.source == t.target, t


def test_allowed_commands_per_state(wf: Workflow) -> None:
    """The commands each state allows are the lifecycle of the rulebook."""
    for state in wf.states:
        assert set(wf.allowed_commands(state)) == ALLOWED[state], state


def test_machine_document_strips_metadata(document: dict) -> None:
    """The state machine gets no labels, rules or guard lists; guards become `cond`."""
    doc = machine_document(document)
    assert "guards" not in doc and "label" not in doc and "version" not in doc
    for spec in doc["states"].values():
        assert "label" not in spec and "rules" not in spec
        for item in spec.get("transitions", []):
            assert "label" not in item and "guards" not in item
    [start] = [
        t for t in doc["states"]["referred"]["transitions"] if t["event"] == "start_assessment"
    ]
    assert start["cond"] == "has_application_for_use"
    # the source document is left untouched
    assert "label" in document["states"]["referred"]


def test_machine_class_is_strict(wf: Workflow) -> None:
    """The loaded machine refuses events it has no transition for, and does not swallow errors."""
    assert wf.machine_class.allow_event_without_transition is False
    assert wf.machine_class.catch_errors_as_events is False


def test_machine_class_raises_on_an_event_without_transition(wf: Workflow) -> None:
    """Sent an event the state does not have, the machine raises (it does not ignore it)."""
    view = View(state="planning")
    machine = wf.machine_class(model=view, state_field="state")
    with pytest.raises(TransitionNotAllowed):
        machine.send("close_case")
    assert view.state == "planning"


@dataclass
class View:
    """A guard view with every guard answering True unless set otherwise."""

    state: str
    failing: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> bool:
        if name.startswith("__"):
            raise AttributeError(name)
        return name not in self.failing


def test_decide_raises_command_not_allowed_for_an_event_not_in_the_state(wf: Workflow) -> None:
    """An event without a transition from the state raises CommandNotAllowed with the list."""
    view = View(state="planning")
    with pytest.raises(CommandNotAllowed) as exc:
        wf.decide(view, "close_case")
    assert exc.value.code == "command_not_allowed"
    assert set(exc.value.allowed_commands) == ALLOWED["planning"]
    assert view.state == "planning"


def test_decide_raises_command_not_allowed_for_an_unknown_event(wf: Workflow) -> None:
    """An event unknown to the definition is not allowed anywhere."""
    with pytest.raises(CommandNotAllowed) as exc:
        wf.decide(View(state="referred"), "delete_case")
    assert set(exc.value.allowed_commands) == ALLOWED["referred"]


def test_decide_returns_the_target_and_leaves_the_view(wf: Workflow) -> None:
    """When the guards hold, decide answers the target; the view keeps the current state."""
    view = View(state="referred")
    assert wf.decide(view, "start_assessment") == "assessment"
    assert view.state == "referred"
    assert wf.decide(View(state="referred"), "give_consent") == "referred"


@pytest.mark.parametrize(
    ("state", "event", "failing", "code", "rule"),
    [
        (
            "referred",
            "start_assessment",
            {"has_application_for_use"},
            "consent_required",
            "R-INT-2",
        ),
        (
            "referred",
            "return_to_referrer",
            {"referrer_consulted"},
            "referrer_consultation_required",
            "R-INT-4",
        ),
        ("planning", "draft_plan", {"plan_is_complete"}, "plan_incomplete", "R-PLN-1"),
        (
            "planning",
            "approve_plan",
            {"meeting_approved_this_case"},
            "meeting_gate_not_met",
            "R-MTG-5",
        ),
        (
            "in_support",
            "suspend_case",
            {"contact_attempts_recorded"},
            "contact_attempts_required",
            "R-SUS-2",
        ),
        ("in_support", "close_case", {"lead_agency_in_plan"}, "lead_agency_not_in_plan", "R-END-2"),
        (
            "awaiting_decision",
            "decide_support",
            {"actor_is_municipality"},
            "decision_requires_municipality",
            "R-DEC-1",
        ),
        (
            "suspended",
            "resume_case",
            {"contact_restored"},
            "contact_restoration_required",
            "R-SUS-3",
        ),
    ],
)
def test_decide_raises_gate_refused_with_the_guard_code(
    wf: Workflow, state: str, event: str, failing: set[str], code: str, rule: str
) -> None:
    """A failing guard refuses with the guard's code and rules, and the state's commands."""
    # selectors pick one branch: make every alternative's other selectors fail
    view = View(
        state=state,
        failing=frozenset(
            failing
            | {"keeps_application", "plan_needs_no_support_decision"}
            | {"decision_refused_first_plan", "decision_refused_replan"}
        ),
    )
    with pytest.raises(GateRefused) as exc:
        wf.decide(view, event)
    assert exc.value.code == code
    assert rule in exc.value.rules
    assert set(exc.value.allowed_commands) == ALLOWED[state]
    assert view.state == state


def test_decide_reports_the_first_failing_guard_in_definition_order(wf: Workflow) -> None:
    """With several failing guards, the refusal names the first one of the transition."""
    view = View(
        state="planning",
        failing=frozenset({"meeting_is_layered_support_meeting", "meeting_approved_this_case"}),
    )
    with pytest.raises(GateRefused) as exc:
        wf.decide(view, "approve_plan")
    assert exc.value.code == "meeting_not_layered_support_meeting"


def test_decide_with_only_selectors_failing_is_a_generic_refusal(wf: Workflow) -> None:
    """When no transition's selectors hold, the refusal is the generic gate_not_met."""
    view = View(
        state="awaiting_decision",
        failing=frozenset(
            {"decision_granted", "decision_refused_first_plan", "decision_refused_replan"}
        ),
    )
    with pytest.raises(GateRefused) as exc:
        wf.decide(view, "decide_support")
    assert exc.value.code == "gate_not_met"


@pytest.mark.parametrize(
    ("selector", "target"),
    [
        ("decision_granted", "in_support"),
        ("decision_refused_first_plan", "planning"),
        ("decision_refused_replan", "replanning"),
    ],
)
def test_selectors_choose_the_target(wf: Workflow, selector: str, target: str) -> None:
    """The selectors route one command to different targets."""
    others = {"decision_granted", "decision_refused_first_plan", "decision_refused_replan"}
    view = View(state="awaiting_decision", failing=frozenset(others - {selector}))
    assert wf.decide(view, "decide_support") == target


def test_mermaid_renders_every_state_with_its_label(wf: Workflow) -> None:
    """The diagram names each state by its Japanese label and skips internal transitions."""
    diagram = wf.mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    for state, label in wf.state_labels.items():
        assert f'state "{label}" as {state}' in diagram
    assert "[*] --> referred" in diagram
    assert "returned_to_referrer --> [*]" in diagram
    assert "referred --> referred" not in diagram
