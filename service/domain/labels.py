"""Japanese labels of the events, for histories that people read."""

from __future__ import annotations

EVENT_LABELS: dict[str, str] = {
    "CaseReferred": "紹介受付",
    "ExplanationRecorded": "説明・同行の記録",
    "ConsentGiven": "同意の取得",
    "ConsentWithdrawn": "同意の撤回",
    "AssessmentStarted": "アセスメント開始",
    "ReferredToCouncil": "支援会議への付議",
    "ReturnedToReferrer": "紹介元へ戻し",
    "EarlyStartRecorded": "早期支援開始の記録",
    "ContactAttemptRecorded": "接触の記録",
    "AssessmentCompleted": "アセスメント完了",
    "PlanDrafted": "プラン案作成",
    "PlanApproved": "会議でのプラン承認",
    "SupportDecided": "支援決定",
    "MonitoringRecorded": "モニタリング",
    "ReplanStarted": "再プラン開始",
    "CaseClosed": "終結",
    "CaseSuspended": "中断",
    "CaseResumed": "再開",
    "WorkflowMigrated": "ワークフロー定義の版の移行",
    "MeetingRecorded": "会議の記録",
}
