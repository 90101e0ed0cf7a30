"""Vocabularies and ids of outreach and participation support (R-OUT-2, R-OUT-3, R-PAR-1)."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID, uuid5

# Fixed for ever: engagement ids are uuid5(ENGAGEMENT_NAMESPACE, "<case id>:<service>").
ENGAGEMENT_NAMESPACE = UUID("5d0b7c3e-2f4a-4d8e-9b61-7a3c2e1f0d94")
SERVICES = ("outreach", "participation")
SERVICE_LABELS = {
    "outreach": "アウトリーチ等を通じた継続的支援事業",
    "participation": "参加支援事業",
}


class StartBasis(StrEnum):
    """Why an engagement may start (R-PAR-1, R-DEC-1, R-DEC-3)."""

    support_decision = "support_decision"
    early_start = "early_start"


class OutreachActivity(StrEnum):
    """The activities of outreach support (R-OUT-2)."""

    information_gathering = "information_gathering"
    prior_coordination = "prior_coordination"
    relationship_building = "relationship_building"
    home_visit = "home_visit"
    accompanied_visit = "accompanied_visit"


ACTIVITY_LABELS = {
    "information_gathering": "関係機関・住民からの情報収集",
    "prior_coordination": "事前調整",
    "relationship_building": "関係づくり",
    "home_visit": "家庭訪問",
    "accompanied_visit": "同行訪問・同行支援",
}

# The activities that are attempts to reach the person when no contact is made (R-SUS-2).
CONTACT_ATTEMPTS = frozenset(
    {
        OutreachActivity.information_gathering,
        OutreachActivity.home_visit,
        OutreachActivity.accompanied_visit,
    }
)


class OutreachOutcome(StrEnum):
    """The outcome code of an outreach activity: a structured fact of the council track."""

    no_response = "no_response"
    letter_left = "letter_left"
    refused = "refused"
    talked_through_door = "talked_through_door"
    met = "met"
    information_obtained = "information_obtained"
    coordinated = "coordinated"
    other = "other"


OUTCOME_LABELS = {
    "no_response": "応答なし",
    "letter_left": "手紙を置いた",
    "refused": "拒否",
    "talked_through_door": "ドア越しに会話",
    "met": "面会できた",
    "information_obtained": "情報を得た",
    "coordinated": "調整できた",
    "other": "その他",
}


def engagement_id(case_id: str, service: str) -> UUID:
    """Return the id of a case's engagement in `service` (deterministic)."""
    return uuid5(ENGAGEMENT_NAMESPACE, f"{case_id}:{service}")


def notes_context(engagement: UUID | str) -> str:
    """Return where sealed notes belong: their ciphertext is bound to the engagement."""
    return f"engagement:{engagement}|notes"


# The records whose `notes` (free text about the person) are sealed personal data.
NOTE_RECORDS = (
    "activities",
    "intakes",
    "assessments",
    "matches",
    "settling_in",
    "follow_ups",
    "periodic_contacts",
)


# Japanese labels of the engagement events, for histories that people read.
ENGAGEMENT_EVENT_LABELS = {
    "EngagementStarted": "支援の開始",
    "ActivityRecorded": "アウトリーチ活動の記録",
    "EngagementIntakeRecorded": "インテークの記録",
    "EngagementAssessed": "アセスメントの記録",
    "EngagementPlanDrafted": "プラン案の作成",
    "EngagementPlanApproved": "会議でのプラン承認",
    "HostMatched": "受け入れ先とのマッチング",
    "SettlingInSupportRecorded": "定着支援の記録",
    "FollowUpRecorded": "フォローアップの記録",
    "CostPaid": "受け入れ先への実費の支払",
    "EngagementClosed": "終結",
    "EngagementSuspended": "中断",
    "EngagementResumed": "再開",
    "PeriodicContactRecorded": "定期的な連絡の記録",
}
