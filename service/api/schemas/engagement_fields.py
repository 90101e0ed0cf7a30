"""Labelled vocabularies of outreach and participation support (enums with Japanese labels)."""

from __future__ import annotations

from service.api.schemas.common import labelled
from service.domain.engagement import (
    ACTIVITY_LABELS,
    OUTCOME_LABELS,
    OutreachActivity,
    OutreachOutcome,
    StartBasis,
)

ActivityField = labelled(OutreachActivity, ACTIVITY_LABELS, "Outreach activity (R-OUT-2)")
OutcomeCodeField = labelled(
    OutreachOutcome, OUTCOME_LABELS, "Outcome code of the activity (a council-track fact)"
)
BasisField = labelled(
    StartBasis,
    {"support_decision": "市町村の支援決定による開始", "early_start": "プラン前の早期開始"},
    "Why the service starts (R-PAR-1, R-DEC-3)",
)
