"""The README's outreach and participation diagrams are generated from their definitions."""

from __future__ import annotations

import pytest

from service.cli import DIAGRAM, ENGAGEMENT_WORKFLOWS, README, readme_with_diagram
from service.domain.workflow import load_workflow


@pytest.mark.parametrize("name", ENGAGEMENT_WORKFLOWS)
def test_R_OUT_4_R_PAR_5_readme_draws_the_engagement_workflows(name: str) -> None:
    """`kasane diagram` output equals the README block and workflows/<name>.mmd."""
    workflow = load_workflow(name)
    mermaid = workflow.mermaid()
    readme = README.read_text(encoding="utf-8")
    assert f"<!-- diagram:{name}:begin -->\n```mermaid\n{mermaid}```\n" in readme
    assert readme == readme_with_diagram(readme, mermaid, name)
    assert (DIAGRAM.parent / f"{name}.mmd").read_text(encoding="utf-8") == mermaid
    for label in workflow.state_labels.values():
        assert label in mermaid
