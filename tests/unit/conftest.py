"""Fixtures of the domain unit tests: the fictional cases of EXAMPLES.md, freshly referred."""

from __future__ import annotations

import pytest

from service.domain.case import SupportCase
from service.domain.workflow import Workflow, support_case_workflow
from tests.unit import support


@pytest.fixture
def wf() -> Workflow:
    """The support-case workflow in force."""
    return support_case_workflow()


@pytest.fixture
def yamada() -> SupportCase:
    """山田ハナ 8050 case, just referred by the community general support center."""
    return support.refer_yamada()


@pytest.fixture
def sato() -> SupportCase:
    """佐藤ミキ double-care case, just referred by the child user-support service."""
    return support.refer_sato()


@pytest.fixture
def suzuki() -> SupportCase:
    """鈴木ケン lost-contact case, just referred by the self-reliance consultation."""
    return support.refer_suzuki()


@pytest.fixture
def takahashi() -> SupportCase:
    """高橋ユイ, just referred by the disability consultation."""
    return support.refer_takahashi()


@pytest.fixture
def hoarding_couple() -> SupportCase:
    """The council-only couple: a direct consultation by a neighbour, no consent."""
    return support.refer_hoarding_couple()
