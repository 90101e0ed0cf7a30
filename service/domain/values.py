"""Value types of the domain: roles, agency kinds, meeting vocabularies and the acting party."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The role of the acting party (who does what, R-ORG-1)."""

    municipality = "municipality"
    coordinator = "coordinator"
    community_general_support_center = "community_general_support_center"
    disability_consultation = "disability_consultation"
    child_user_support = "child_user_support"
    self_reliance_consultation = "self_reliance_consultation"
    town_without_welfare_office_consultation = "town_without_welfare_office_consultation"
    outreach_provider = "outreach_provider"
    participation_provider = "participation_provider"
    community_building_provider = "community_building_provider"
    auditor = "auditor"
    integration_client = "integration_client"


ROLE_LABELS: dict[str, str] = {
    "municipality": "市町村",
    "coordinator": "多機関協働事業者",
    "community_general_support_center": "地域包括支援センター",
    "disability_consultation": "障害者相談支援事業",
    "child_user_support": "利用者支援事業",
    "self_reliance_consultation": "自立相談支援事業",
    "town_without_welfare_office_consultation": "福祉事務所未設置町村相談事業",
    "outreach_provider": "アウトリーチ等を通じた継続的支援事業者",
    "participation_provider": "参加支援事業者",
    "community_building_provider": "地域づくり事業者",
    "auditor": "監査担当",
    "integration_client": "連携システム",
}

COMPREHENSIVE_CONSULTATION_KINDS = frozenset(
    {
        Role.community_general_support_center,
        Role.disability_consultation,
        Role.child_user_support,
        Role.self_reliance_consultation,
        Role.town_without_welfare_office_consultation,
    }
)


# Agencies that refer cases to the coordinator (R-INT-1): they always refer as themselves.
REFERRER_ROLES = frozenset({*COMPREHENSIVE_CONSULTATION_KINDS, Role.community_building_provider})


class ReferralRoute(StrEnum):
    """How the case came to the coordinator (R-INT-1)."""

    referral = "referral"
    direct_consultation = "direct_consultation"


class ConsentGiver(StrEnum):
    """Who gave a consent (R-INT-2)."""

    person = "person"
    legal_representative = "legal_representative"


class MeetingKind(StrEnum):
    """Kinds of meeting; only the layered support meeting satisfies a gate (R-MTG-6)."""

    layered_support_meeting = "layered_support_meeting"
    support_council = "support_council"
    case_conference = "case_conference"


MEETING_KIND_LABELS = {
    "layered_support_meeting": "重層的支援会議",
    "support_council": "支援会議",
    "case_conference": "ケース会議",
}


class MeetingFormat(StrEnum):
    """In person or online (R-MTG-4)."""

    in_person = "in_person"
    online = "online"


class Timing(StrEnum):
    """The four timings of R-MTG-5, or none for other agenda items."""

    plan = "plan"
    replan = "replan"
    closure = "closure"
    suspension = "suspension"
    none = "none"


TIMING_LABELS = {
    "plan": "A プラン策定時",
    "replan": "B 再プラン策定時",
    "closure": "C 支援終結の判断時",
    "suspension": "D 支援中断の決定時",
    "none": "該当なし",
}


class Outcome(StrEnum):
    """The outcome of one agenda item (R-MTG-7: each case's decision is its own)."""

    approved = "approved"
    deferred = "deferred"
    not_approved = "not_approved"
    noted = "noted"


class SupportService(StrEnum):
    """Services that need the municipality's support decision (R-DEC-1)."""

    outreach = "outreach"
    participation = "participation"


class ContactKind(StrEnum):
    """Ways of reaching the person (R-SUS-2)."""

    home_visit = "home_visit"
    information_from_surroundings = "information_from_surroundings"
    phone = "phone"
    letter = "letter"
    accompanied_visit = "accompanied_visit"
    office_visit = "office_visit"


@dataclass(frozen=True)
class Actor:
    """The acting party of a command: tenant, agency and role, taken from credentials."""

    municipality_id: str
    agency_id: str
    role: Role

    def as_dict(self) -> dict[str, str]:
        """Return the actor as recorded in events."""
        return {
            "municipality_id": self.municipality_id,
            "agency_id": self.agency_id,
            "role": str(self.role),
        }
