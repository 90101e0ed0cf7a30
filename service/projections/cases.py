"""Case list and case detail views, rendered from the case aggregate's state."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from service.domain.case import SupportCase
from service.domain.personal import MAIN_PERSON, split_assessment, split_person
from service.persistence.crypto import KeyStore
from service.persistence.sealing import seal_fields
from service.persistence.tables import case_detail, case_list, personal_data

# The records of the person and the household members, kept in `personal_data`.
PERSONAL_RECORDS = ("person", "household")


def detail_document(case: SupportCase) -> dict[str, Any]:
    """Return the case detail as stored in the view (allowed commands are added on read)."""
    current = case.current_plan
    # The lead agency of the latest closure keeps accompanying the person after a resumption.
    latest_closure = case.closures[-1] if case.closures else {}
    return {
        "case_id": str(case.id),
        "municipality_id": case.municipality_id,
        "state": case.state,
        "version": case.version,
        "workflow_version": case.workflow_version,
        "referred_at": case.created_on.isoformat(),
        "updated_at": case.modified_on.isoformat(),
        "referral": case.referral,
        "person": split_person(case.person)[0],
        "household": [split_person(m)[0] for m in case.household],
        "consents": case.consents,
        "explanations": case.explanations,
        "council_referral": case.council_referral,
        "return_to_referrer": case.return_to_referrer_record,
        "assessments": [split_assessment(a)[0] for a in case.assessments],
        "early_starts": case.early_starts,
        "contacts": case.contacts,
        "monitoring": case.monitoring,
        "plans": case.plans,
        "current_plan": current,
        "closure": case.closure,
        "suspension": case.suspension,
        "resumptions": case.resumptions,
        "closures": case.closures,
        "suspensions": case.suspensions,
        "lead_agency_id": latest_closure.get("lead_agency_id"),
    }


def personal_documents(case: SupportCase) -> dict[str, dict[str, Any]]:
    """Return each person's personal data: identity, and for the person the narratives."""
    documents: dict[str, dict[str, Any]] = {
        MAIN_PERSON: {
            "identity": split_person(case.person)[1],
            "assessments": [split_assessment(a)[1] for a in case.assessments],
        }
    }
    for member in case.household:
        documents[member["person_id"]] = {"identity": split_person(member)[1]}
    return documents


def project_case(session: Session, case: SupportCase, keys: KeyStore) -> None:
    """Write the case's rows in the list and detail views (an upsert by delete and insert)."""
    doc = detail_document(case)
    case_id = doc["case_id"]
    session.execute(delete(case_list).where(case_list.c.case_id == case_id))
    session.execute(delete(case_detail).where(case_detail.c.case_id == case_id))
    session.execute(delete(personal_data).where(personal_data.c.case_id == case_id))
    for person_id, personal in personal_documents(case).items():
        session.execute(
            insert(personal_data).values(
                case_id=case_id,
                person_id=person_id,
                document=json.dumps(
                    keys.seal(case_id, person_id, personal, "read-model", session.connection())
                ),
            )
        )
    session.execute(
        insert(case_list).values(
            case_id=case_id,
            municipality_id=case.municipality_id,
            state=case.state,
            referrer_kind=case.referral.get("referrer_kind"),
            referrer_agency_id=case.referral.get("referrer_agency_id"),
            lead_agency_id=doc["lead_agency_id"],
            current_plan_version=(doc["current_plan"] or {}).get("version"),
            version=case.version,
            referred_at=doc["referred_at"],
            updated_at=doc["updated_at"],
        )
    )
    session.execute(
        insert(case_detail).values(
            case_id=case_id,
            municipality_id=case.municipality_id,
            document=json.dumps(sealed_detail(doc, keys, session), ensure_ascii=False),
        )
    )


def sealed_detail(doc: dict[str, Any], keys: KeyStore, session: Session) -> dict[str, Any]:
    """Seal the detail's protected fields (free text, the council's secrets) in place with the
    key of the person each concerns; the person's and household's records stay apart in
    `personal_data` (only their ids are in the detail)."""
    records = {k: doc[k] for k in PERSONAL_RECORDS}
    rest = {k: v for k, v in doc.items() if k not in PERSONAL_RECORDS}
    conn = session.connection()
    sealed = seal_fields(keys, doc["case_id"], rest, None, "read-model", MAIN_PERSON, conn)
    return {k: records[k] if k in records else sealed[k] for k in doc}  # the order kept
