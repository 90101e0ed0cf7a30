"""The state report (国への報告, R-RPT-1): counts of one municipality for a period.

Computed from the stored events only, never from the read models, so the report of any past
period can be produced again and gives the same figures however many events came later.
`state_report` is a pure function over an iterator of `ReportEvent`s in commit order; it keeps
one small record per case, engagement, host and issue (never the events themselves).

Dating rule: an event counts on the business date it carries, not on the day it was typed in:

- CaseReferred: the referral's `received_on`; ConsentGiven: `given_on`; SupportDecided:
  `decided_on`; EarlyStartRecorded: `started_on`; CaseResumed: `resumed_on`;
  ReturnedToReferrer: the consultation's `consulted_on`; MeetingRecorded: `held_on`;
  CommunityIssueRaised / CommunityIssueCaseLinked: `raised_on`; CommunityIssueStatusChanged:
  `changed_on`; HostRetired: `retired_on`.
- PlanApproved, CaseClosed, CaseSuspended, EngagementClosed and EngagementSuspended: the
  `held_on` of the meeting they cite (the plan is adopted, the case or engagement closed or
  suspended, at that meeting, R-MTG-5).
- Any other event (e.g. EngagementStarted's `started_on`, EngagementResumed's `resumed_on`) by
  the first of `DATE_KEYS` found in its data or one level down; failing all that, by its
  timestamp as a calendar date in Japan (Asia/Tokyo) — e.g. AssessmentCompleted and
  HostRegistered.

"At period end" figures take, per case / engagement / host / issue, the latest event dated on or
before `to` (ties in commit order); a host's retirement is final whatever its date. The period
is inclusive at both ends.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

Json = dict[str, Any]
JST = ZoneInfo("Asia/Tokyo")

# The event types the report reads (the query filters the event index by them).
CASE_EVENTS = frozenset(
    {
        "CaseReferred",
        "ConsentGiven",
        "AssessmentCompleted",
        "PlanApproved",
        "SupportDecided",
        "EarlyStartRecorded",
        "CaseClosed",
        "CaseSuspended",
        "CaseResumed",
        "ReturnedToReferrer",
    }
)
ENGAGEMENT_EVENTS = frozenset(
    {"EngagementStarted", "EngagementClosed", "EngagementSuspended", "EngagementResumed"}
)
REGISTER_EVENTS = frozenset(
    {
        "HostRegistered",
        "HostRetired",
        "CommunityIssueRaised",
        "CommunityIssueCaseLinked",
        "CommunityIssueStatusChanged",
    }
)
REPORT_EVENT_TYPES = CASE_EVENTS | ENGAGEMENT_EVENTS | REGISTER_EVENTS | {"MeetingRecorded"}

DATE_KEYS = (
    "received_on",
    "given_on",
    "decided_on",
    "held_on",
    "started_on",
    "closed_on",
    "suspended_on",
    "resumed_on",
    "retired_on",
    "raised_on",
    "changed_on",
    "consulted_on",
    "on",
)
_DATED_BY = {
    "CaseReferred": ("referral", "received_on"),
    "ConsentGiven": ("consent", "given_on"),
    "SupportDecided": ("decision", "decided_on"),
    "EarlyStartRecorded": ("start", "started_on"),
    "CaseResumed": ("resumption", "resumed_on"),
    "ReturnedToReferrer": ("consultation", "consulted_on"),
    "MeetingRecorded": (None, "held_on"),
    "CommunityIssueRaised": (None, "raised_on"),
    "CommunityIssueCaseLinked": (None, "raised_on"),
    "CommunityIssueStatusChanged": (None, "changed_on"),
    "HostRetired": (None, "retired_on"),
}
_DATED_BY_MEETING = frozenset(
    {"PlanApproved", "CaseClosed", "CaseSuspended", "EngagementClosed", "EngagementSuspended"}
)

# Referrer kinds reported one by one (R-INT-1); anything else counts as `other`.
REFERRER_KINDS = (
    "community_general_support_center",
    "disability_consultation",
    "child_user_support",
    "self_reliance_consultation",
    "town_without_welfare_office_consultation",
    "community_building_provider",
    "direct_consultation",
    "other",
)
REFERRER_KIND_LABELS = {
    "community_general_support_center": "地域包括支援センター",
    "disability_consultation": "障害者相談支援事業",
    "child_user_support": "利用者支援事業",
    "self_reliance_consultation": "自立相談支援事業",
    "town_without_welfare_office_consultation": "福祉事務所未設置町村相談事業",
    "community_building_provider": "地域づくり事業者",
    "direct_consultation": "直接相談",
    "other": "その他",
}
TIMINGS = ("plan", "replan", "closure", "suspension")

# Figures in report order, with the Japanese column headers of the CSV.
FIGURES: dict[str, str] = {
    "referrals": "紹介・相談受付件数",
    **{f"referrals.{k}": f"紹介・相談受付件数（{v}）" for k, v in REFERRER_KIND_LABELS.items()},
    "consents": "同意件数",
    "assessments": "アセスメント件数",
    "plans": "プラン策定件数",
    "replans": "再プラン策定件数",
    "layered_support_meetings": "重層的支援会議開催回数",
    "layered_support_meeting_items.plan": "重層的支援会議 A プラン策定時 件数",
    "layered_support_meeting_items.replan": "重層的支援会議 B 再プラン策定時 件数",
    "layered_support_meeting_items.closure": "重層的支援会議 C 支援終結の判断時 件数",
    "layered_support_meeting_items.suspension": "重層的支援会議 D 支援中断の決定時 件数",
    "support_councils": "支援会議開催回数",
    "case_conferences": "ケース会議開催回数",
    "support_decisions_granted": "支援決定件数",
    "support_decisions_refused": "支援決定 不承認件数",
    "early_starts": "早期開始件数",
    "closures": "終結件数",
    "suspensions": "中断件数",
    "resumptions": "再開件数",
    "open_cases_at_end": "期末時点の支援継続中ケース数",
    "outreach_started": "アウトリーチ等を通じた継続的支援 開始件数",
    "outreach_open_at_end": "アウトリーチ等を通じた継続的支援 期末実施中件数",
    "participation_started": "参加支援 開始件数",
    "participation_open_at_end": "参加支援 期末実施中件数",
    "hosts_registered": "受け入れ先 新規登録数",
    "hosts_active_at_end": "受け入れ先 期末登録数",
    "community_issues_raised": "地域課題 新規件数",
    "community_issues_open_at_end": "地域課題 期末未解決件数",
}
HEADER_LABELS = {"municipality_id": "市町村", "from": "期間開始日", "to": "期間終了日"}


@dataclass(frozen=True)
class ReportEvent:
    """One stored event as the report reads it: its type, stream, timestamp and data."""

    event_type: str
    originator_id: str
    timestamp: datetime
    data: Mapping[str, Any]


def from_domain_event(event: Any) -> ReportEvent:
    """Return the report's view of a decoded domain event."""
    data = {
        k: v
        for k, v in vars(event).items()
        if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
    }
    return ReportEvent(type(event).__name__, str(event.originator_id), event.timestamp, data)


@dataclass
class _Latest:
    """The latest dated status of one thing, as of the period end."""

    started: date | None = None
    status_on: tuple[date, int] | None = None
    open: bool = False
    kind: str = ""
    ended: bool = False  # for good, on or before the period end (a retired host)

    def update(self, on: date, seq: int, is_open: bool, until: date) -> None:
        if on > until:
            return
        if self.status_on is None or (on, seq) >= self.status_on:
            self.status_on = (on, seq)
            self.open = is_open


@dataclass
class _State:
    until: date
    meetings: dict[str, date] = field(default_factory=dict)
    cases: dict[str, _Latest] = field(default_factory=dict)
    engagements: dict[str, _Latest] = field(default_factory=dict)
    hosts: dict[str, _Latest] = field(default_factory=dict)
    issues: dict[str, _Latest] = field(default_factory=dict)


def business_date(event: ReportEvent, meetings: Mapping[str, date]) -> date:
    """Return the date an event counts on (see the module's dating rule)."""
    data = event.data
    if event.event_type in _DATED_BY:
        outer, key = _DATED_BY[event.event_type]
        holder = data.get(outer) if outer else data
        if isinstance(holder, Mapping) and _is_date(holder.get(key)):
            return date.fromisoformat(str(holder[key])[:10])
    if event.event_type in _DATED_BY_MEETING and data.get("meeting_id") in meetings:
        return meetings[data["meeting_id"]]
    if event.event_type not in _DATED_BY and event.event_type not in _DATED_BY_MEETING:
        for holder in (data, *(v for v in data.values() if isinstance(v, Mapping))):
            for key in DATE_KEYS:
                if _is_date(holder.get(key)):
                    return date.fromisoformat(str(holder[key])[:10])
    return event.timestamp.astimezone(JST).date()


def _is_date(value: Any) -> bool:
    if isinstance(value, date):
        return True
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        return False
    return True


def empty_figures() -> dict[str, int]:
    """Return every figure at zero, in report order."""
    return dict.fromkeys(FIGURES, 0)


def state_report(
    events: Iterable[ReportEvent], period_from: date, period_to: date
) -> dict[str, int]:
    """Return the figures of the period [period_from, period_to] (both inclusive)."""
    figures = empty_figures()
    state = _State(until=period_to)
    for seq, event in enumerate(events):
        on = business_date(event, state.meetings)
        if event.event_type == "MeetingRecorded":
            state.meetings[str(event.originator_id)] = on
        inside = period_from <= on <= period_to
        _count(figures, event, on, inside)
        _track(state, event, on, seq)
    _at_end(figures, state)
    return figures


def _count(figures: dict[str, int], event: ReportEvent, on: date, inside: bool) -> None:
    if not inside:
        return
    kind, data = event.event_type, event.data
    if kind == "CaseReferred":
        figures["referrals"] += 1
        figures[f"referrals.{_referrer_kind(data.get('referral') or {})}"] += 1
    elif kind == "ConsentGiven":
        figures["consents"] += 1
    elif kind == "AssessmentCompleted":
        figures["assessments"] += 1
    elif kind == "PlanApproved":
        figures["replans" if data.get("timing") == "replan" else "plans"] += 1
    elif kind == "MeetingRecorded":
        _count_meeting(figures, data)
    elif kind == "SupportDecided":
        granted = (data.get("decision") or {}).get("granted")
        figures["support_decisions_granted" if granted else "support_decisions_refused"] += 1
    elif kind == "EarlyStartRecorded":
        figures["early_starts"] += 1
    elif kind == "CaseClosed":
        figures["closures"] += 1
    elif kind == "CaseSuspended":
        figures["suspensions"] += 1
    elif kind == "CaseResumed":
        figures["resumptions"] += 1
    elif kind == "EngagementStarted" and data.get("service") in ("outreach", "participation"):
        figures[f"{data['service']}_started"] += 1
    elif kind == "HostRegistered":
        figures["hosts_registered"] += 1
    elif kind == "CommunityIssueRaised":
        figures["community_issues_raised"] += 1


def _referrer_kind(referral: Mapping[str, Any]) -> str:
    if referral.get("route") == "direct_consultation":
        return "direct_consultation"
    kind = referral.get("referrer_kind")
    return kind if kind in REFERRER_KIND_LABELS else "other"


def _count_meeting(figures: dict[str, int], data: Mapping[str, Any]) -> None:
    kind = data.get("kind")
    if kind == "layered_support_meeting":
        figures["layered_support_meetings"] += 1
        for item in data.get("agenda") or []:
            if item.get("timing") in TIMINGS:
                figures[f"layered_support_meeting_items.{item['timing']}"] += 1
    elif kind == "support_council":
        figures["support_councils"] += 1
    elif kind == "case_conference":
        figures["case_conferences"] += 1


_CASE_STATUS = {
    "CaseReferred": True,
    "CaseClosed": False,
    "CaseSuspended": False,
    "ReturnedToReferrer": False,
    "CaseResumed": True,
}
_ENGAGEMENT_STATUS = {
    "EngagementStarted": True,
    "EngagementClosed": False,
    "EngagementSuspended": False,
    "EngagementResumed": True,
}


def _track(state: _State, event: ReportEvent, on: date, seq: int) -> None:
    kind, key, until = event.event_type, str(event.originator_id), state.until
    if kind in _CASE_STATUS:
        latest = state.cases.setdefault(key, _Latest())
        latest.update(on, seq, _CASE_STATUS[kind], until)
    elif kind in _ENGAGEMENT_STATUS:
        latest = state.engagements.setdefault(key, _Latest())
        if kind == "EngagementStarted":
            latest.kind = str(event.data.get("service", ""))
        latest.update(on, seq, _ENGAGEMENT_STATUS[kind], until)
    elif kind == "HostRegistered":
        state.hosts.setdefault(key, _Latest()).update(on, seq, True, until)
    elif kind == "HostRetired":
        # A retirement is final, even when dated before the day the host was entered in the
        # register (a register taken over from paper): the host is not active after it.
        latest = state.hosts.setdefault(key, _Latest())
        latest.ended = latest.ended or on <= until
    elif kind == "CommunityIssueRaised" or (
        kind == "CommunityIssueCaseLinked" and event.data.get("reopened")
    ):
        state.issues.setdefault(key, _Latest()).update(on, seq, True, until)
    elif kind == "CommunityIssueStatusChanged":
        is_open = event.data.get("status") in ("open", "in_development")
        state.issues.setdefault(key, _Latest()).update(on, seq, is_open, until)


def _at_end(figures: dict[str, int], state: _State) -> None:
    figures["open_cases_at_end"] = sum(c.open for c in state.cases.values())
    for service in ("outreach", "participation"):
        figures[f"{service}_open_at_end"] = sum(
            e.open for e in state.engagements.values() if e.kind == service
        )
    figures["hosts_active_at_end"] = sum(h.open and not h.ended for h in state.hosts.values())
    figures["community_issues_open_at_end"] = sum(i.open for i in state.issues.values())


# --- presentation -------------------------------------------------------------------------------


def as_document(
    municipality_id: str, period_from: date, period_to: date, figures: Mapping[str, int]
) -> Json:
    """Return the report as JSON: the period, the flat figures and their Japanese labels."""
    nested: Json = {}
    for name, value in figures.items():
        head, _, tail = name.partition(".")
        if tail:
            nested.setdefault(head + "_by_kind" if head == "referrals" else head, {})[tail] = value
        else:
            nested[name] = value
    return {
        "municipality_id": municipality_id,
        "from": period_from.isoformat(),
        "to": period_to.isoformat(),
        **nested,
        "labels": dict(FIGURES),
    }


def flat_figures(document: Mapping[str, Any]) -> dict[str, int]:
    """Return the figures of a report document (`as_document`) keyed as in `FIGURES`."""
    figures = {}
    for name in FIGURES:
        head, _, tail = name.partition(".")
        group = "referrals_by_kind" if head == "referrals" else head
        figures[name] = int(document[group][tail] if tail else document[name])
    return figures


def as_csv(
    municipality_id: str, period_from: date, period_to: date, figures: Mapping[str, int]
) -> str:
    """Return the report as CSV: one header row in Japanese and one row of figures."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([*HEADER_LABELS.values(), *FIGURES.values()])
    writer.writerow(
        [
            municipality_id,
            period_from.isoformat(),
            period_to.isoformat(),
            *(figures[name] for name in FIGURES),
        ]
    )
    return out.getvalue()
