"""The case workflow, loaded from its declarative definition in `workflows/`.

The YAML document is the one source: python-statemachine gets it with our metadata keys
(`label`, `rules`, `guards`) stripped, and the refusal codes, Japanese labels and rule IDs
come from the same document.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import yaml
from statemachine.exceptions import TransitionNotAllowed
from statemachine.io import load

from service.domain.errors import CommandNotAllowed, DomainError, GateRefused

WORKFLOWS_DIR = Path(__file__).resolve().parents[2] / "workflows"
SUPPORT_CASE = WORKFLOWS_DIR / "support_case.yaml"
# Superseded versions of a definition, kept so that cases begun under them keep running:
# `workflows/versions/<name>/v<N>.yaml`. The file `workflows/<name>.yaml` is the version in force.
VERSIONS_DIR = WORKFLOWS_DIR / "versions"

_META_KEYS = ("label", "rules", "guards", "version")


@dataclass(frozen=True)
class Guard:
    """A named guard: its refusal code, label and the rules it enforces."""

    name: str
    label: str
    code: str | None
    rules: tuple[str, ...]
    selector: bool


@dataclass(frozen=True)
class Transition:
    """One transition of the definition."""

    source: str
    event: str
    target: str
    guards: tuple[str, ...]
    label: str
    internal: bool


class GuardView(Protocol):
    """The object guards are evaluated on: one attribute per guard name."""

    state: str


class Workflow:
    """A loaded workflow definition: the machine plus its labels, rules and guard codes."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.name: str = document["name"]
        self.label: str = document.get("label", self.name)
        self.version: int = int(document.get("version", 1))
        self.guards = {
            name: Guard(
                name=name,
                label=spec.get("label", name),
                code=spec.get("code"),
                rules=tuple(spec.get("rules", ())),
                selector=bool(spec.get("selector", False)),
            )
            for name, spec in (document.get("guards") or {}).items()
        }
        self.state_labels: dict[str, str] = {}
        self.state_rules: dict[str, tuple[str, ...]] = {}
        self.transitions: list[Transition] = []
        for state_id, spec in document["states"].items():
            self.state_labels[state_id] = spec.get("label", state_id)
            self.state_rules[state_id] = tuple(spec.get("rules", ()))
            for item in spec.get("transitions", []):
                self.transitions.append(
                    Transition(
                        source=state_id,
                        event=item["event"],
                        target=item["target"],
                        guards=tuple(item.get("guards", ())),
                        label=item.get("label", item["event"]),
                        internal=bool(item.get("internal", False)),
                    )
                )
        self.initial: str = next(s for s, spec in document["states"].items() if spec.get("initial"))
        for transition in self.transitions:
            unknown = set(transition.guards) - set(self.guards)
            if unknown:
                raise ValueError(
                    f"{transition.source}.{transition.event}: unknown guards {unknown}"
                )
        self.machine_class = _strict(
            load(yaml.safe_dump(machine_document(document)), format="yaml")
        )

    @property
    def states(self) -> list[str]:
        """Return the state ids in definition order."""
        return list(self.state_labels)

    @property
    def events(self) -> list[str]:
        """Return every event (command) of the definition, in first-seen order."""
        return list(dict.fromkeys(t.event for t in self.transitions))

    def allowed_commands(self, state: str) -> tuple[str, ...]:
        """Return the commands with a transition from `state` (guards not evaluated)."""
        return tuple(dict.fromkeys(t.event for t in self.transitions if t.source == state))

    def decide(self, view: GuardView, event: str) -> str:
        """Ask the machine whether `event` may happen now; return the target state or raise."""
        state = view.state
        candidates = [t for t in self.transitions if t.source == state and t.event == event]
        if not candidates:
            raise CommandNotAllowed(
                f"'{event}' is not allowed while the case is '{state}'",
                allowed_commands=self.allowed_commands(state),
            )
        machine = self.machine_class(model=view, state_field="state")
        try:
            machine.send(event)
        except TransitionNotAllowed:
            raise self._refusal(view, event, candidates) from None
        target: str = view.state
        view.state = state  # the view only answers; the event will change the aggregate
        return target

    def _refusal(self, view: GuardView, event: str, candidates: list[Transition]) -> GateRefused:
        for transition in candidates:
            for name in transition.guards:
                guard = self.guards[name]
                if not guard.selector and not getattr(view, name):
                    return GateRefused(
                        f"'{event}' refused: {guard.name} does not hold ({guard.label})",
                        code=guard.code,
                        rules=guard.rules,
                        allowed_commands=self.allowed_commands(view.state),
                    )
        return GateRefused(
            f"'{event}' refused: no transition's guards hold",
            code="gate_not_met",
            allowed_commands=self.allowed_commands(view.state),
        )

    def mermaid(self) -> str:
        """Render the definition as a Mermaid state diagram with Japanese labels."""
        lines = ["stateDiagram-v2"]
        for state_id, label in self.state_labels.items():
            lines.append(f'    state "{label}" as {state_id}')
        lines.append(f"    [*] --> {self.initial}")
        seen: set[tuple[str, str, str]] = set()
        for t in self.transitions:
            if t.internal or (t.source, t.target, t.label) in seen:
                continue
            seen.add((t.source, t.target, t.label))
            lines.append(f"    {t.source} --> {t.target} : {t.label}")
        for state_id, spec in self.document["states"].items():
            if spec.get("final"):
                lines.append(f"    {state_id} --> [*]")
        return "\n".join(lines) + "\n"


def machine_document(document: dict[str, Any]) -> dict[str, Any]:
    """Strip our metadata and turn guard lists into `cond` expressions for the loader."""
    doc = {k: copy.deepcopy(v) for k, v in document.items() if k not in _META_KEYS}
    for spec in doc["states"].values():
        for key in _META_KEYS:
            spec.pop(key, None)
        for item in spec.get("transitions", []):
            item.pop("label", None)
            guards = item.pop("guards", None)
            if guards:
                item["cond"] = " and ".join(guards)
    return doc


def _strict(machine_class: type) -> type:
    """Make the loaded (lenient) StateChart refuse instead of silently ignoring."""
    return type(
        machine_class.__name__,
        (machine_class,),
        {"allow_event_without_transition": False, "catch_errors_as_events": False},
    )


_REGISTRY: dict[tuple[str, int], Workflow] = {}


def register(workflow: Workflow) -> Workflow:
    """Make a version of a workflow definition available to the aggregates that run under it."""
    key = (workflow.name, workflow.version)
    known = _REGISTRY.setdefault(key, workflow)
    if known is not workflow and known.document != workflow.document:
        raise ValueError(
            f"workflow {workflow.name} version {workflow.version} is already defined otherwise"
        )
    return known


def workflow_version(version: int, name: str = "support_case") -> Workflow:
    """Return a version of a workflow: the one in force, or a superseded one kept on file.

    Raises `UnknownWorkflowVersion` when no definition of that version exists.
    """
    load_workflow(name)
    known = _REGISTRY.get((name, version))
    return known if known is not None else _load_superseded(name, version)


class UnknownWorkflowVersion(DomainError):
    """No definition of the asked version of a workflow exists."""

    code = "unknown_workflow_version"
    title = "ワークフロー定義の版が見つかりません"


def superseded_path(name: str, version: int) -> Path:
    """Return where a superseded version of a definition is kept."""
    return VERSIONS_DIR / name / f"v{version}.yaml"


def _load_superseded(name: str, version: int) -> Workflow:
    path = superseded_path(name, version)
    if not path.is_file():
        raise UnknownWorkflowVersion(f"workflow {name} has no version {version}")
    with path.open(encoding="utf-8") as f:
        workflow = Workflow(yaml.safe_load(f))
    if (workflow.name, workflow.version) != (name, version):
        raise ValueError(f"{path} defines {workflow.name} version {workflow.version}")
    return register(workflow)


def known_versions(name: str = "support_case") -> list[int]:
    """Return the versions of a workflow that can run cases: kept on file, registered, in force."""
    load_workflow(name)
    on_file = {
        int(p.stem[1:]) for p in (VERSIONS_DIR / name).glob("v*.yaml") if p.stem[1:].isdigit()
    }
    registered = {v for (n, v) in _REGISTRY if n == name}
    return sorted(on_file | registered)


def state_label(state: str, version: int | None = None, name: str = "support_case") -> str:
    """Return a state's Japanese label in the version a case runs under.

    A state that only another version knows keeps its label from that version; a list of cases
    may hold cases of several versions.
    """
    in_force = load_workflow(name)
    own = workflow_version(version, name) if version and version in known_versions(name) else None
    for workflow in (own, in_force, *(workflow_version(v, name) for v in known_versions(name))):
        if workflow is not None and state in workflow.state_labels:
            return workflow.state_labels[state]
    return state


@cache
def load_workflow(name: str) -> Workflow:
    """Return the definition `workflows/<name>.yaml`: the version in force for new aggregates."""
    with (WORKFLOWS_DIR / f"{name}.yaml").open(encoding="utf-8") as f:
        return register(Workflow(yaml.safe_load(f)))


def support_case_workflow() -> Workflow:
    """Return the support-case workflow in force for new cases."""
    return load_workflow("support_case")


def has_text(value: object) -> bool:
    """Whether a free-text field holds something other than blanks (None is empty)."""
    return isinstance(value, str) and bool(value.strip())
