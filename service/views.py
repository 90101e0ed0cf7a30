"""Queries on the read models (never replaying aggregates), scoped to the actor's municipality."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, insert, select
from sqlalchemy.engine import Connection, Engine

from service.domain.classification import (
    DataClass,
    Subject,
    has_content,
    made_before_consent,
    transform,
)
from service.domain.errors import NotFound
from service.domain.permissions import authorize
from service.domain.personal import CASE_RUNNERS, MAIN_PERSON, Basis, read_basis, redacted
from service.domain.values import MEETING_KIND_LABELS, Actor, Role
from service.domain.workflow import state_label, workflow_version
from service.persistence.crypto import SEALED, KeyStore
from service.persistence.tables import (
    access_log,
    case_detail,
    case_list,
    case_meetings,
    meeting_list,
    personal_data,
)
from service.request_context import request_id

Json = dict[str, Any]


def list_cases(
    engine: Engine,
    actor: Actor,
    *,
    state: str | None = None,
    referrer_kind: str | None = None,
    lead_agency_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Return a page of the case list, newest first."""
    authorize(actor.role, "list_cases")
    where = [case_list.c.municipality_id == actor.municipality_id]
    if state:
        where.append(case_list.c.state == state)
    if referrer_kind:
        where.append(case_list.c.referrer_kind == referrer_kind)
    if lead_agency_id:
        where.append(case_list.c.lead_agency_id == lead_agency_id)
    order = (case_list.c.referred_at.desc(), case_list.c.case_id)
    page = _page(engine, select(case_list), where, order, limit, offset)
    page["items"] = [
        {
            **{k: v for k, v in row.items() if k != "municipality_id"},
            "state_label": state_label(row["state"]),
        }
        for row in page["items"]
    ]
    return page


def _page(
    engine: Engine,
    query: Select[Any],
    where: list[Any],
    order: tuple[Any, ...],
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """Run a filtered, ordered, paginated query; return the rows with the total count."""
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count()).select_from(query.where(*where).subquery())
        ).scalar_one()
        rows = conn.execute(query.where(*where).order_by(*order).limit(limit).offset(offset))
        items = [dict(row) for row in rows.mappings()]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def get_case(engine: Engine, actor: Actor, case_id: str, keys: KeyStore) -> dict[str, Any]:
    """Return the case detail with its meetings, the commands allowed now, and the personal
    data and text the actor may read (the rest redacted with a reason); each read is logged."""
    authorize(actor.role, "read_case")
    with engine.begin() as conn:
        doc = _case_document(conn, actor, case_id)
        councils = _council_members(conn, case_id)
        meetings = conn.execute(
            select(case_meetings)
            .where(case_meetings.c.case_id == case_id)
            .order_by(case_meetings.c.held_on, case_meetings.c.meeting_id)
        ).mappings()
        meeting_rows = [
            {k: v for k, v in m.items() if k not in ("case_id", "municipality_id")}
            for m in meetings
            if m["kind"] != "support_council"
            or actor.role in _COUNCIL_OVERSIGHT
            or sees_council(actor, councils, m["meeting_id"])
        ]
        reader = Reader.of(conn, actor, doc, keys, councils)
        doc = reader.disclose(
            before_consent_withheld(doc, reader), "read-model", skip=PERSONAL_RECORDS
        )
        personal = readable_personal_data(conn, actor, doc, keys, reader)
        doc["person"] = personal[MAIN_PERSON]["identity"]
        doc["household"] = [personal[m["person_id"]]["identity"] for m in doc["household"]]
        narratives = personal[MAIN_PERSON].get("assessments")
        if narratives is not None:
            doc["assessments"] = [
                _with_narrative(facts, text)
                for facts, text in zip(doc["assessments"], narratives, strict=False)
            ]
        reader.log(conn)
    workflow = workflow_version(doc.get("workflow_version", 1))
    return {
        **doc,
        "state_label": state_label(doc["state"], workflow.version),
        "allowed_commands": list(workflow.allowed_commands(doc["state"])),
        "meetings": meeting_rows,
    }


def _with_narrative(facts: Json, text: Json) -> Json:
    """Put an assessment's narrative (personal data) back into its facts."""
    domains = facts.get("domains")
    if not isinstance(domains, list):  # redacted or erased: the narratives go with them
        return facts
    return {
        **facts,
        "summary": text["summary"],
        "domains": [
            {**d, "narrative": n} for d, n in zip(domains, text["narratives"], strict=False)
        ],
    }


def _case_document(conn: Connection, actor: Actor, case_id: str) -> dict[str, Any]:
    document = conn.execute(
        select(case_detail.c.document).where(
            case_detail.c.case_id == case_id,
            case_detail.c.municipality_id == actor.municipality_id,
        )
    ).scalar_one_or_none()
    if document is None:
        raise NotFound(f"case {case_id} not found")
    doc: dict[str, Any] = json.loads(document)
    return doc


def readable_personal_data(
    conn: Connection, actor: Actor, doc: dict[str, Any], keys: KeyStore, reader: Reader
) -> dict[str, dict[str, Any]]:
    """Return each person's data as the actor may see it; `reader` logs every read (R-CON-4)."""
    case_id = doc["case_id"]
    rows = conn.execute(
        select(personal_data.c.person_id, personal_data.c.document).where(
            personal_data.c.case_id == case_id
        )
    ).all()
    stored = {person_id: json.loads(document) for person_id, document in rows}
    result: dict[str, dict[str, Any]] = {}
    for person_id, data in stored.items():
        basis = reader.bases.get(person_id) or Basis(person_id, None, "no_basis")
        if basis.basis is None:
            reason = basis.reason or "no_basis"
            result[person_id] = {"identity": redacted(person_id, reason), "assessments": None}
            continue
        data = keys.unseal(case_id, data, "read-model", conn)
        if data.get("erased"):
            result[person_id] = {"identity": {"person_id": person_id, "erased": True}}
            result[person_id]["assessments"] = None
            continue
        result[person_id] = {**data, "identity": {"person_id": person_id, **data["identity"]}}
        fields = sorted(data["identity"]) + (
            ["assessment_narrative"] if data.get("assessments") else []
        )
        reader.opened.setdefault(person_id, set()).update(fields)
    return result


# The subject of a meeting's own text (sealing.STREAM_SUBJECT; views import no persistence code
# beyond the key store).
STREAM = "stream"
# The records of the person and the household members: read through `personal_data`.
PERSONAL_RECORDS = ("person", "household")
_INDEX = re.compile(r"\[\d+\]")


@dataclass
class Reader:
    """One reader of one case: on what basis it reads each person's fields, and what it read.

    Identity and sensitive fields are shown on a basis for the person they concern (consent
    covering the reader's agency, or membership of a support council that took the case;
    R-CON-4, R-CON-5); the council's secrets only to its members and the municipality that hosts
    it (R-CON-2, R-ORG-2). Every field opened is written to the access log, once per person.
    """

    actor: Actor
    case_id: str
    bases: dict[str, Basis]
    council: bool
    keys: KeyStore
    conn: Connection
    opened: dict[str, set[str]] = dataclass_field(default_factory=dict)
    _keys: dict[tuple[str, str], bytes | None] = dataclass_field(default_factory=dict)

    def _key(self, case_id: str, sealed: Json) -> bytes | None:
        """Return the key of a sealed value's person, looked up once per reader."""
        where = (case_id, str(sealed["person_id"]))
        if where not in self._keys:
            self._keys[where] = self.keys.key(*where, self.conn)
        return self._keys[where]

    @classmethod
    def of(
        cls,
        conn: Connection,
        actor: Actor,
        doc: Json,
        keys: KeyStore,
        councils: dict[str, list[str]] | None = None,
    ) -> Reader:
        """Return the reader of the case `doc` (its detail document) for `actor`."""
        councils = _council_members(conn, doc["case_id"]) if councils is None else councils
        persons = [MAIN_PERSON, *(m["person_id"] for m in doc["household"])]
        bases = read_basis(actor, persons, doc["consents"], councils)
        return cls(actor, doc["case_id"], bases, sees_council(actor, councils), keys, conn)

    @property
    def sees_before_consent(self) -> bool:
        """Whether the reader sees what was recorded on the council track before consent: the
        council's members and the municipality, and once a consent covers it (R-OUT-3)."""
        basis = self.bases.get(MAIN_PERSON)
        consented = basis is not None and str(basis.basis or "").startswith("consent:")
        return self.council or consented

    def allows(self, cls: DataClass, person_id: str) -> str | None:
        """Return None when the reader may see the field, else the redaction reason."""
        if cls is DataClass.council:
            return None if self.council else "council_secrecy"
        if cls is DataClass.sensitive and self.actor.role in CASE_RUNNERS:
            return None  # the body the referral was made to runs the case (R-INT-1, R-INT-4)
        basis = self.bases.get(person_id)
        if basis is None or basis.basis is None:
            return basis.reason if basis and basis.reason else "no_basis"
        return None

    def disclose(
        self,
        value: Any,
        context: str,
        kind: str | None = None,
        skip: tuple[str, ...] = (),
        notes_context: str | None = None,
    ) -> Any:
        """Return `value` with each protected field opened for the reader or redacted.

        Sealed fields (read models) are opened with the person's key; plain ones (events
        replayed through the mapper) are kept or redacted alike; erased fields stay erased.
        """

        def visit(path: str, cls: DataClass, item: Any, subject: Subject) -> Any:
            if path.split(".", 1)[0].split("[", 1)[0] in skip or not has_content(item):
                return item
            if isinstance(item, dict) and (item.get("redacted") or item.get("erased")):
                return item
            person = subject.person_id
            reason = self.allows(cls, person)
            if reason is not None:
                return redacted(person, reason)
            if isinstance(item, dict) and SEALED in item:
                case_id = str(item.get("case_id", self.case_id))
                # sealed by the mapper or a projection: bound to its path; else an engagement's
                # notes, sealed by the command and bound to the engagement
                where = f"{context}:{path}" if item.get("field") else str(notes_context)
                item = self.keys.unseal_with(self._key(case_id, item), case_id, item, where)
                if isinstance(item, dict) and item.get("erased"):
                    return item
            if subject.case_id in (None, self.case_id):
                self.opened.setdefault(person, set()).add(_INDEX.sub("", path))
            return item

        return transform(value, visit, kind)

    def entry(self, event: Any, notes_context: str | None = None) -> Json:
        """Return one event of a history as the reader may see it: its protected fields
        disclosed or redacted, a record of the council track restricted (R-OUT-3)."""
        payload = {
            k: copy.deepcopy(v)
            for k, v in event.__dict__.items()
            if k not in ("originator_id", "originator_version", "timestamp", "originator_topic")
        }
        kind = type(event).__name__
        actor = payload.pop("actor", None)
        if not self.sees_before_consent and made_before_consent(payload):
            payload = {"state": payload.get("state"), "restricted": True}
        version = event.originator_version
        return {
            "version": version,
            "type": kind,
            "recorded_at": event.timestamp.isoformat(),
            "actor": actor,
            "payload": self.disclose(payload, f"{version}", kind, notes_context=notes_context),
        }

    def _other_basis(self) -> str:
        """Return the basis of a read without the person's consent or a council seat."""
        if self.actor.role in CASE_RUNNERS:
            return f"case_runner:{self.actor.role}"
        return "council"

    def log(self, conn: Connection) -> None:
        """Write one access-log row per person whose fields were read, with its basis."""
        for person_id, fields in sorted(self.opened.items()):
            basis = self.bases.get(person_id)
            conn.execute(
                insert(access_log).values(
                    at=datetime.now(UTC).isoformat(),
                    request_id=request_id.get(),
                    municipality_id=self.actor.municipality_id,
                    agency_id=self.actor.agency_id,
                    role=str(self.actor.role),
                    case_id=self.case_id,
                    person_id=person_id,
                    fields=json.dumps(sorted(fields)),
                    basis=basis.basis if basis and basis.basis else self._other_basis(),
                )
            )
        self.opened.clear()


# The records a case or engagement keeps of what was done on the council track (R-OUT-3).
COUNCIL_TRACK_RECORDS = ("contacts", "early_starts", "activities")


def before_consent_withheld(doc: Json, reader: Reader) -> Json:
    """Return `doc` without its records made before consent, unless the reader sees them."""
    if reader.sees_before_consent:
        return doc
    return {
        k: [r for r in v if not made_before_consent(r)]
        if k in COUNCIL_TRACK_RECORDS and isinstance(v, list)
        else v
        for k, v in doc.items()
    }


def sees_council(
    actor: Actor, councils: dict[str, list[str]], meeting_id: str | None = None
) -> bool:
    """Whether `actor` may see a support council's content: its members and the municipality
    that hosts every council (R-CON-2, R-ORG-1, R-ORG-2); `meeting_id`: that council only."""
    if actor.role is Role.municipality:
        return True
    return any(
        actor.agency_id in agencies
        for mid, agencies in councils.items()
        if meeting_id is None or mid == meeting_id
    )


def _council_members(conn: Connection, case_id: str) -> dict[str, list[str]]:
    """Return the support councils that took the case, with the agencies that attended."""
    documents = conn.execute(
        select(meeting_list.c.meeting_id, meeting_list.c.document)
        .join(case_meetings, case_meetings.c.meeting_id == meeting_list.c.meeting_id)
        .where(case_meetings.c.case_id == case_id, case_meetings.c.kind == "support_council")
    ).all()
    return {
        meeting_id: [
            p["agency_id"] for p in json.loads(doc)["participants"] if p.get("attended", True)
        ]
        for meeting_id, doc in documents
    }


def access_log_page(
    engine: Engine, actor: Actor, case_id: str | None, limit: int, offset: int
) -> dict[str, Any]:
    """Return the reads of personal data in the actor's municipality, newest first."""
    authorize(actor.role, "read_access_log")
    where = [access_log.c.municipality_id == actor.municipality_id]
    if case_id:
        where.append(access_log.c.case_id == case_id)
    page = _page(engine, select(access_log), where, (access_log.c.id.desc(),), limit, offset)
    page["items"] = [{**row, "fields": json.loads(row["fields"])} for row in page["items"]]
    return page


def list_meetings(
    engine: Engine,
    actor: Actor,
    keys: KeyStore,
    *,
    kind: str | None = None,
    held_from: str | None = None,
    held_to: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """Return a page of the meeting list, latest first."""
    authorize(actor.role, "list_meetings")
    where = [meeting_list.c.municipality_id == actor.municipality_id]
    if kind:
        where.append(meeting_list.c.kind == kind)
    if held_from:
        where.append(meeting_list.c.held_on >= held_from)
    if held_to:
        where.append(meeting_list.c.held_on <= held_to)
    order = (meeting_list.c.held_on.desc(), meeting_list.c.meeting_id)
    page = _page(engine, select(meeting_list.c.document), where, order, limit, offset)
    with engine.begin() as conn:
        page["items"] = [
            _meeting(conn, json.loads(row["document"]), actor, keys) for row in page["items"]
        ]
    return page


def get_meeting(engine: Engine, actor: Actor, meeting_id: str, keys: KeyStore) -> dict[str, Any]:
    """Return one meeting of the actor's municipality."""
    authorize(actor.role, "read_meeting")
    with engine.begin() as conn:
        document = conn.execute(
            select(meeting_list.c.document).where(
                meeting_list.c.meeting_id == meeting_id,
                meeting_list.c.municipality_id == actor.municipality_id,
            )
        ).scalar_one_or_none()
        if document is None:
            raise NotFound(f"meeting {meeting_id} not found")
        return _meeting(conn, json.loads(document), actor, keys)


# Who sees a support council's agenda and participants besides its members (R-CON-2): the
# municipality hosts every council (R-ORG-1) and the auditor reviews the record (its workflow
# facts: who attended, which cases, what outcome; never its text).
_COUNCIL_OVERSIGHT = frozenset({Role.municipality, Role.auditor})


def _meeting(conn: Connection, doc: Json, actor: Actor, keys: KeyStore) -> Json:
    """Return a meeting as `actor` may see it: a support council's content only to its members;
    the text (title, notes, shortages) only to those who attended and the municipality.

    A support council discusses cases without the person's consent under a duty of secrecy
    (R-CON-2, R-ORG-2): other agencies see that it was held, not which cases or who attended.
    """
    view = {**doc, "kind_label": MEETING_KIND_LABELS[doc["kind"]]}
    attended = {p.get("agency_id") for p in doc.get("participants", []) if p.get("attended", True)}
    members = attended | {(doc.get("host") or {}).get("agency_id")}
    if (
        doc["kind"] == "support_council"
        and actor.role not in _COUNCIL_OVERSIGHT
        and actor.agency_id not in members
    ):
        view.update(agenda=[], participants=[], resource_shortages=[], title="", restricted=True)
    reads_text = actor.role is Role.municipality or actor.agency_id in members
    meeting_id = doc["meeting_id"]
    opened: set[str] = set()

    def visit(path: str, cls: DataClass, item: Any, subject: Subject) -> Any:
        if not (isinstance(item, dict) and SEALED in item):
            return item
        if not reads_text:
            return redacted(subject.person_id, "meeting_not_attended")
        case_id = str(item.get("case_id", meeting_id))
        value = keys.unseal(case_id, item, f"read-model:{path}", conn)
        if case_id != meeting_id and not (isinstance(value, dict) and value.get("erased")):
            opened.add(case_id)
        return value

    view = transform(view, visit, None, STREAM)
    for case_id in sorted(opened):
        conn.execute(
            insert(access_log).values(
                at=datetime.now(UTC).isoformat(),
                request_id=request_id.get(),
                municipality_id=actor.municipality_id,
                agency_id=actor.agency_id,
                role=str(actor.role),
                case_id=case_id,
                person_id=MAIN_PERSON,
                fields=json.dumps(["agenda.note"]),
                basis=f"meeting:{meeting_id}",
            )
        )
    return view


def case_history(
    engine: Engine, actor: Actor, case_id: str, events: list[Any], keys: KeyStore
) -> list[Json]:
    """Return the case's events, protected fields shown only where the actor may read them."""
    with engine.begin() as conn:
        doc = _case_document(conn, actor, case_id)
        reader = Reader.of(conn, actor, doc, keys)
        history = [reader.entry(event) for event in events]
        reader.log(conn)
    return history
