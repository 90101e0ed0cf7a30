"""In-process cost of one command and one load of a case with free text (not in `make bench`).

A case of 45 events, most with a sealed note, then 200 contact attempts and 200 loads on SQLite
in a temporary directory; prints milliseconds per command and per load. Run it on two checkouts
to compare them (README of bench/, "Comparing two checkouts"):

    python -m bench.case_cost
"""

from __future__ import annotations

import tempfile
import time

from service.application.kasane import Kasane
from service.domain.values import Actor, Role
from service.persistence import migrate

COORDINATOR = Actor("demo-city", "demo-coordinator", Role.coordinator)
ATTEMPT = {"kind": "home_visit", "on": "2026-05-01", "reached": False, "note": "不在"}
N = 200


def main() -> None:
    """Print the cost of a command and of a load, in ms."""
    url = f"sqlite:///{tempfile.mkdtemp()}/kasane.db"
    migrate.upgrade(url)
    app = Kasane(url)
    referral = {
        "reason": "8050 と家計",
        "referrer_kind": "community_general_support_center",
        "received_on": "2026-04-01",
        "route": "referral",
    }
    household = [{"name": "太郎", "age": 53}]
    case_id = app.refer_case(COORDINATOR, referral, {"name": "山田"}, household).case_id
    consent = {"person_id": "person", "application_for_use": True, "agency_ids": []}
    app.give_consent(COORDINATOR, case_id, None, consent)
    app.start_assessment(COORDINATOR, case_id, None)
    domains = [{"domain": "家計", "items": ["滞納"], "narrative": "n"}]
    app.complete_assessment(COORDINATOR, case_id, None, {"summary": "s", "domains": domains})
    for _ in range(40):
        app.record_contact_attempt(COORDINATOR, case_id, None, dict(ATTEMPT))
    started = time.perf_counter()
    for _ in range(N):
        app.record_contact_attempt(COORDINATOR, case_id, None, dict(ATTEMPT))
    command = (time.perf_counter() - started) / N * 1000
    started = time.perf_counter()
    for _ in range(N):
        app.load_case(COORDINATOR, case_id)
    load = (time.perf_counter() - started) / N * 1000
    print(f"command {command:.2f} ms  load {load:.2f} ms")


if __name__ == "__main__":
    main()
