"""Large event stores made fast: a template case built through the application, then copied.

1. A template case of E events is appended through the store (referral, consent, assessment
   start, then contact attempts) and projected like any command would.
2. Each copy gets a new case id and its own referral: the referral carries the person's data,
   sealed with that copy's own data keys (created in `data_keys` as `Kasane._commit` would),
   so every copy decodes and rebuilds like a real case; an erased copy would read as erased.
3. The copies' later events hold no personal data (contact attempts, consent, assessment start),
   so their stored rows are copied in SQL with the new ids, interleaved across cases (all
   cases' 2nd events, then all 3rd events, …) as a busy municipality's history is.
4. `event_index` gets one row per copied event (tenant feed order and event type right); the
   hash chain of copied rows is filler, so `kasane verify` is not meaningful on these stores.
   The read models of the copies are left to the rebuild (benchmark 4) or, for the growth store,
   the template's `case_list` / `case_detail` rows are copied with the new ids.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import insert

from bench.append import one_case_commands, store_append
from bench.common import COORDINATOR, HOUSEHOLD, PERSON, REFERRAL, application
from service.domain.case import SupportCase
from service.persistence.crypto import KeyStore
from service.persistence.tables import data_keys
from service.projections import runner

_UUID_TEXT = (
    "substr(h,1,8)||'-'||substr(h,9,4)||'-'||substr(h,13,4)||'-'||substr(h,17,4)||'-'||substr(h,21)"
)


def generate(
    url: str,
    path: Path,
    events: int,
    per_case: int = 100,
    project: bool = False,
    interleave: bool = True,
) -> int:
    """Fill the freshly migrated SQLite store at `url` (file `path`) with about `events` events
    in cases of `per_case` events; return the number of cases.

    `interleave`: the copies' events in the order of a busy municipality (every case's 2nd
    event, then every 3rd, …); else case after case (faster to write).
    """
    cases = max(1, events // per_case)
    app = application(url)
    try:
        commands = one_case_commands(per_case - 3)
        store_append(app, commands[:2])
        store_append(app, [[e for c in commands[2:] for e in c]])
        template = commands[0][0].originator_id
        if project:
            with app.recorder.transaction(commit=True) as session:
                runner.project(session, app.repository.get(template), app.keys)
        copies: list[bytes] = []
        table = app.recorder.events_record_cls.__table__
        for start in range(0, cases - 1, 5_000):
            with app.recorder.transaction(commit=True) as session:
                rows, key_rows = [], []
                for _ in range(start, min(cases - 1, start + 5_000)):
                    case = SupportCase.refer(
                        COORDINATOR, dict(REFERRAL), dict(PERSON), list(HOUSEHOLD)
                    )
                    key_rows += _new_keys(app.keys, str(case.id), case.person_ids)
                    stored = app.mapper.to_stored_event(case.collect_events()[0])
                    rows.append(
                        {
                            "originator_id": stored.originator_id,
                            "originator_version": 1,
                            "topic": stored.topic,
                            "state": stored.state,
                        }
                    )
                    copies.append(case.id.bytes)
                session.execute(insert(data_keys), key_rows)
                session.execute(insert(table), rows)
            app.keys.settle()
    finally:
        app.close()
    _copy_rows(path, template.bytes, sorted(copies), project, interleave)
    return cases


def _new_keys(keys: KeyStore, case_id: str, person_ids: list[str]) -> list[dict[str, Any]]:
    """What `KeyStore.ensure` does for a new case, as rows for one bulk insert: a wrapped data
    key per person, the unwrapped one kept in flight for sealing in this transaction."""
    rows = []
    for person_id in person_ids:
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(12)
        wrapped = nonce + keys._master.encrypt(nonce, key, f"{case_id}|{person_id}".encode())
        keys._pending()[(case_id, person_id)] = key
        rows.append(
            {
                "case_id": case_id,
                "person_id": person_id,
                "wrapped_key": wrapped,
                "created_at": datetime.now(UTC).isoformat(),
            }
        )
    return rows


def _copy_rows(
    path: Path, template: bytes, copies: list[bytes], project: bool, interleave: bool
) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA cache_size=-2000000")  # 2 GB: the bulk insert's index pages
    conn.execute("PRAGMA temp_store=MEMORY")
    conn.execute("BEGIN")
    conn.execute("CREATE TEMP TABLE copies (seq INTEGER PRIMARY KEY, id BLOB NOT NULL)")
    conn.executemany("INSERT INTO copies (id) VALUES (?)", [(c,) for c in copies])
    conn.execute(
        "CREATE TEMP TABLE template (originator_version INTEGER PRIMARY KEY, topic TEXT,"
        " state BLOB, event_type TEXT)"
    )
    rows = conn.execute(
        "SELECT originator_version, topic, state FROM kasane_events"
        " WHERE originator_id = ? AND originator_version > 1",
        (template,),
    ).fetchall()
    conn.executemany(
        "INSERT INTO template VALUES (?, ?, ?, ?)",
        [(v, topic, state, topic.rsplit(".", 1)[-1]) for v, topic, state in rows],
    )
    conn.execute(
        "INSERT INTO kasane_events (originator_id, originator_version, topic, state)"
        # CROSS JOIN fixes the outer loop, so the rows come out in order without a sort
        + (
            " SELECT c.id, t.originator_version, t.topic, t.state"
            " FROM template t CROSS JOIN copies c ORDER BY t.originator_version, c.seq"
            if interleave
            else " SELECT c.id, t.originator_version, t.topic, t.state"
            " FROM copies c CROSS JOIN template t ORDER BY c.seq, t.originator_version"
        )
    )
    conn.execute(
        "INSERT INTO event_index (notification_id, originator_id, originator_version,"
        " municipality_id, event_type, hash, previous_hash)"
        f" SELECT e.id, (SELECT {_UUID_TEXT} FROM (SELECT lower(hex(e.originator_id)) AS h)),"
        " e.originator_version, 'demo-city',"
        " coalesce(t.event_type, 'CaseReferred'), lower(hex(randomblob(32))),"
        " lower(hex(randomblob(32)))"
        " FROM kasane_events e LEFT JOIN template t ON t.originator_version = e.originator_version"
        " ORDER BY e.id"  # a fresh store: no event is indexed yet
    )
    if project:
        template_text = str(uuid.UUID(bytes=template))
        for name in ("case_list", "case_detail"):
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
            chosen = ", ".join(
                f"(SELECT {_UUID_TEXT} FROM (SELECT lower(hex(c.id)) AS h))"
                if col == "case_id"
                else f"t.{col}"
                for col in columns
            )
            conn.execute(
                f"INSERT INTO {name} ({', '.join(columns)}) SELECT {chosen}"
                f" FROM {name} t, copies c WHERE t.case_id = ?",
                (template_text,),
            )
    conn.execute("COMMIT")
    conn.close()


def timed_generate(
    url: str, path: Path, events: int, project: bool = False, interleave: bool = True
) -> dict[str, Any]:
    """`generate`, timed."""
    started = time.perf_counter()
    cases = generate(url, path, events, project=project, interleave=interleave)
    return {"cases": cases, "seconds": time.perf_counter() - started}
