"""The README's role table is generated from the permissions table, never edited by hand."""

from __future__ import annotations

from service.cli import README, readme_with_roles, role_table
from service.domain.permissions import PERMISSIONS


def test_R_ORG_1_readme_role_table_matches_the_permissions() -> None:
    """`kasane roles` output equals the README block (run it after changing PERMISSIONS)."""
    readme = README.read_text(encoding="utf-8")
    assert readme == readme_with_roles(readme, role_table())
    for action in PERMISSIONS:
        assert f"| `{action}` |" in readme
