"""The `kasane` command: migrate, serve, diagram, openapi, projections, keys, verify, workflows,
idempotency."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from service.domain.values import Actor
    from service.settings import Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DIAGRAM = ROOT / "workflows" / "support_case.mmd"
OPENAPI = ROOT / "openapi" / "openapi.json"
BEGIN, END = "<!-- diagram:begin -->", "<!-- diagram:end -->"
ROLES_BEGIN, ROLES_END = "<!-- roles:begin -->", "<!-- roles:end -->"
CLASSES_BEGIN, CLASSES_END = "<!-- classes:begin -->", "<!-- classes:end -->"


def openapi_document() -> str:
    """Return the OpenAPI document of the app as stable JSON."""
    from service.main import create_app
    from service.settings import Settings

    app = create_app(Settings(database_url="sqlite://", development_keys=False), check=False)
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def readme_with_diagram(readme: str, mermaid: str, name: str = "support_case") -> str:
    """Return the README text with the diagram block of workflow `name` replaced."""
    begin, end = diagram_markers(name)
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n```mermaid\n{mermaid}```\n{end}{tail}"


# The workflows drawn in the README besides the case's: outreach and participation support.
ENGAGEMENT_WORKFLOWS = ("outreach", "participation")


def diagram_markers(name: str) -> tuple[str, str]:
    """Return the README markers around the diagram of workflow `name`."""
    if name == "support_case":
        return BEGIN, END
    return f"<!-- diagram:{name}:begin -->", f"<!-- diagram:{name}:end -->"


def _add_party(parser: argparse.ArgumentParser) -> None:
    from service.domain.values import Role

    parser.add_argument("--municipality", required=True, help="municipality id (the tenant)")
    parser.add_argument("--agency", required=True, help="agency id")
    parser.add_argument("--role", required=True, choices=[str(r) for r in Role], help="role")


def _add_credential_commands(sub: Any) -> None:
    apikeys = sub.add_parser("apikeys", help="API keys of service accounts")
    actions = apikeys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it (shown only once)")
    create.add_argument("--name", required=True, help="what the key is for, e.g. the vendor")
    _add_party(create)
    actions.add_parser("list", help="list the keys (never the keys themselves)")
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    revoke.add_argument("id", help="id printed by `create` or `list`")
    token = sub.add_parser("token", help="print a development HS256 bearer token")
    _add_party(token)
    token.add_argument("--minutes", type=int, default=60, help="lifetime (default 60)")


def _party(args: argparse.Namespace) -> Actor:
    from service.domain.values import Actor, Role

    return Actor(args.municipality, args.agency, Role(args.role))


def _apikeys(args: argparse.Namespace, database_url: str) -> int:
    from sqlalchemy import create_engine

    from service.security import api_keys

    engine = create_engine(database_url)
    if args.action == "create":
        record, key = api_keys.create_api_key(engine, args.name, _party(args))
        print(f"id {record.id}", file=sys.stderr)
        print(key)
    elif args.action == "list":
        for r in api_keys.list_api_keys(engine):
            status = f"revoked {r.revoked_at}" if r.revoked_at else "active"
            print(
                "\t".join(
                    (r.id, r.name, r.municipality_id, r.agency_id, r.role, r.created_at, status)
                )
            )
    elif not api_keys.revoke_api_key(engine, args.id):
        print(f"no active API key with id {args.id}", file=sys.stderr)
        return 1
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    from service.security.tokens import development_token

    if not settings.jwt_dev_hs256_secret:
        print("refused: KASANE_JWT_DEV_HS256_SECRET is not set (development only)", file=sys.stderr)
        return 2
    print(development_token(settings, _party(args), args.minutes))
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.persistence.database import (
        DatabaseNotReady,
        create_database_engine,
        migrate_to_head,
    )

    engine = create_database_engine(settings)
    try:
        migrate_to_head(engine, settings.database_url)
    except DatabaseNotReady as exc:
        print(f"kasane serve: refused to start: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    # No uvicorn access log or default handler: paths, queries and exception messages may
    # hold personal data; service.logs writes the access log (route templates only).
    host, port = args.host or settings.host, args.port or settings.port
    print(f"kasane: serving on http://{host}:{port} (API docs at /docs)", file=sys.stderr)
    uvicorn.run("service.main:app", host=host, port=port, access_log=False, log_config=None)
    return 0


def _verify(case_id: str | None, database_url: str) -> int:
    from sqlalchemy import create_engine

    from service.integration.verify import stream_ids, verify_stream

    engine = create_engine(database_url)
    if case_id is None:
        ids = stream_ids(engine)
    else:
        ids = [i for i in stream_ids(engine) if i == case_id.lower()]
        if not ids:
            print(f"no events stored or indexed for {case_id}", file=sys.stderr)
            return 2
    events = findings = 0
    for stream_id in ids:
        report = verify_stream(engine, stream_id)
        events += report.events
        findings += len(report.findings)
        for f in report.findings:
            print(f"{f.stream_id}\t{f.version}\t{f.kind}\t{f.detail}")
    verdict = "ok" if findings == 0 else f"{findings} finding(s)"
    print(f"verified {len(ids)} stream(s), {events} event(s): {verdict}")
    return 0 if findings == 0 else 1


def _rebuild(settings: Settings) -> int:
    from sqlalchemy import func, select, table

    from service.application.kasane import Kasane

    app = Kasane(settings.database_url, settings.master_key)
    with app.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(table("kasane_events"))).scalar_one()
    position = app.rebuild_read_models(watch=lambda events: _progress(events, total))
    print(f"read models rebuilt up to position {position}")
    return 0


def _progress(items: Iterator[T], total: int, width: int = 30) -> Iterator[T]:
    """Yield `items`, drawing `[####......] done/total events` on stderr at each new percent."""

    def draw(done: int) -> None:
        filled = width * done // total if total else width
        bar = "#" * filled + "." * (width - filled)
        print(f"\r[{bar}] {done}/{total} events", end="", file=sys.stderr, flush=True)

    shown, done = -1, 0
    for done, item in enumerate(items, start=1):
        yield item
        percent = 100 * done // total if total else 100
        if percent != shown:
            shown = percent
            draw(done)
    if done == 0 or done != total:
        draw(done)  # nothing to rebuild, or the count moved while it ran
    print(file=sys.stderr)


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import datetime

    from service.application.kasane import Kasane
    from service.domain.errors import DomainError
    from service.views_history import timeline

    app = Kasane(settings.database_url, settings.master_key)
    try:
        at = datetime.fromisoformat(args.as_of) if args.as_of else None
        rows = timeline(app, args.case_id, version=args.version, at=at)
    except (ValueError, DomainError) as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    header = ("version", "recorded at", "event", "ラベル", "role", "agency", "state after")
    cells = [header] + [
        (str(r.version), r.recorded_at, r.type, r.label, r.role, r.agency_id, r.state) for r in rows
    ]
    print(_table(cells))
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    """Align columns by display width (a Japanese character takes two cells in a terminal)."""
    import unicodedata

    def cells(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    widths = [max(cells(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(v + " " * (w - cells(v)) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _add_webhook_commands(sub: Any) -> None:
    hooks = sub.add_parser("webhooks", help="webhook delivery (the outbox)")
    actions = hooks.add_subparsers(dest="action", required=True)
    actions.add_parser("dispatch", help="send every due webhook event once, then exit")
    replay = actions.add_parser("replay-dead", help="put dead letters back to pending")
    replay.add_argument("--municipality", required=True, help="the subscriptions' municipality")
    replay.add_argument("--subscription", help="only this subscription's dead letters")


def _webhooks(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine

    from service.domain.errors import NotFound
    from service.integration import webhooks

    engine = create_engine(settings.database_url)
    now = datetime.now(UTC)
    if args.action == "dispatch":
        sender = webhooks.http_sender(settings.webhook_timeout_seconds)
        policy = webhooks.RetryPolicy.from_settings(settings)
        report = webhooks.dispatch_due(engine, now, sender, policy)
        due = webhooks.next_due(engine)
        print(
            f"delivered {report.delivered}, failed {report.failed}, dead-lettered {report.dead}"
            + (f"; next attempt due {due.isoformat()}" if due else "")
        )
        return 0
    try:
        count = webhooks.replay_dead(engine, args.municipality, now, args.subscription)
    except NotFound as exc:
        print(exc.message, file=sys.stderr)
        return 1
    print(f"{count} dead letter(s) pending again")
    return 0


def _add_idempotency_commands(sub: Any) -> None:
    keys = sub.add_parser("idempotency", help="Idempotency-Key records")
    actions = keys.add_subparsers(dest="action", required=True)
    actions.add_parser("purge", help="delete expired keys and leases whose owner is gone")


def _idempotency(settings: Settings) -> int:
    from datetime import UTC, datetime

    from sqlalchemy import create_engine

    from service.api.idempotency import purge_expired

    engine = create_engine(settings.database_url)
    try:
        print(f"{purge_expired(engine, datetime.now(UTC))} key(s) purged")
    finally:
        engine.dispose()
    return 0


def _add_report_command(sub: Any) -> None:
    report = sub.add_parser("report", help="the state report of a period (R-RPT-1)")
    report.add_argument("--from", dest="period_from", required=True, help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="period_to", required=True, help="last day (inclusive)")
    report.add_argument(
        "--municipality", help="the municipality (default: the only one in the database)"
    )
    report.add_argument("--format", choices=["json", "csv"], default="json")


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import date

    from sqlalchemy import select

    from service.application.kasane import Kasane
    from service.domain.errors import DomainError
    from service.persistence.tables import event_index
    from service.reports.state_report import as_csv, flat_figures

    app = Kasane(settings.database_url, settings.master_key)
    municipality = args.municipality
    if municipality is None:
        with app.engine.connect() as conn:
            found = conn.execute(select(event_index.c.municipality_id).distinct()).scalars().all()
        if len(found) != 1:
            print("refused: name the municipality with --municipality", file=sys.stderr)
            return 2
        municipality = found[0]
    try:
        start, end = date.fromisoformat(args.period_from), date.fromisoformat(args.period_to)
        report = app.report_figures(municipality, start, end)
    except (ValueError, DomainError) as e:
        print(f"refused: {e}", file=sys.stderr)
        return 2
    if args.format == "json":
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    sys.stdout.write(as_csv(municipality, start, end, flat_figures(report)))
    return 0


def _add_workflow_commands(sub: Any) -> None:
    workflows = sub.add_parser("workflows", help="versions of the workflow definitions")
    actions = workflows.add_subparsers(dest="action", required=True)
    versions = actions.add_parser("versions", help="list the versions that can run cases")
    versions.add_argument("--workflow", default="support_case", help="definition name")
    migrate = actions.add_parser(
        "migrate", help="move running cases to another version with an explicit state mapping"
    )
    migrate.add_argument("--workflow", default="support_case", help="definition name")
    migrate.add_argument("--to", type=int, required=True, help="target version")
    migrate.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="OLD=NEW",
        help="state of the running version = state of the target (repeat for each state)",
    )
    migrate.add_argument(
        "--keep-same-states",
        action="store_true",
        help="map every state the target version also has to itself (--map overrides)",
    )
    migrate.add_argument("--municipality", help="only this municipality's cases (default all)")
    migrate.add_argument(
        "--reason", default="ワークフロー定義の改定", help="why, recorded in each event"
    )
    migrate.add_argument("--dry-run", action="store_true", help="report only; write nothing")


def _workflows(args: argparse.Namespace, settings: Settings) -> int:
    from service.domain.errors import DomainError
    from service.domain.workflow import known_versions, load_workflow

    if args.action == "versions":
        try:
            current = load_workflow(args.workflow).version
        except FileNotFoundError:
            print(f"refused: no workflow {args.workflow}", file=sys.stderr)
            return 2
        for version in known_versions(args.workflow):
            print(f"{version}\t{'in force for new cases' if version == current else 'superseded'}")
        return 0
    mapping: dict[str, str] = {}
    for item in args.map:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            print(f"refused: --map {item!r} is not OLD=NEW", file=sys.stderr)
            return 2
        mapping[old.strip()] = new.strip()
    from service.application.kasane import Kasane
    from service.application.workflow_migration import migrate_cases, plan_mapping
    from service.domain.workflow import workflow_version

    app = Kasane(settings.database_url, settings.master_key)
    try:
        target = workflow_version(args.to, args.workflow)
        mapping = plan_mapping(target, mapping, args.keep_same_states)
        unknown = sorted(v for v in set(mapping.values()) if v not in target.states)
        for state in unknown:
            print(f"warning: version {args.to} has no state '{state}'", file=sys.stderr)
        results = migrate_cases(
            app,
            name=args.workflow,
            to_version=args.to,
            mapping=mapping,
            reason=args.reason,
            municipality_id=args.municipality,
            dry_run=args.dry_run,
        )
    except (DomainError, FileNotFoundError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    header = ("case", "municipality", "from", "state", "to state", "outcome", "detail")
    rows = [
        (
            r.case_id,
            r.municipality_id,
            f"v{r.from_version}",
            r.from_state,
            r.to_state or "-",
            r.outcome,
            r.detail,
        )
        for r in results
    ]
    if rows:
        print(_table([header, *rows]))
    counts: dict[str, int] = {}
    for r in results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "no cases"
    prefix = "dry run, nothing written: " if args.dry_run else ""
    print(f"{prefix}{args.workflow} to version {args.to}: {summary}")
    return 1 if counts.get("refused") or counts.get("conflict") else 0


def role_table() -> str:
    """Return the README's role table, rendered from service/domain/permissions.py."""
    from service.domain.permissions import PERMISSIONS
    from service.domain.values import ROLE_LABELS, Role

    lines = ["| action | roles that may perform it |", "|---|---|"]
    for action, roles in PERMISSIONS.items():
        allowed = ", ".join(f"`{r}`" for r in Role if r in roles)
        lines.append(f"| `{action}` | {'every role' if roles == set(Role) else allowed} |")
    lines += ["", "| role | 役割 |", "|---|---|"]
    lines += [f"| `{r}` | {ROLE_LABELS[r]} |" for r in Role]
    return "\n".join(lines) + "\n"


def readme_with_roles(readme: str, table: str) -> str:
    """Return the README text with the role table replaced."""
    return readme_with_block(readme, ROLES_BEGIN, ROLES_END, table)


def readme_with_block(readme: str, begin: str, end: str, table: str) -> str:
    """Return the README text with the generated block between `begin` and `end` replaced."""
    head, _, rest = readme.partition(begin)
    _, _, tail = rest.partition(end)
    return f"{head}{begin}\n{table}{end}{tail}"


# What protects each class, for the README (service/domain/classification.py).
CLASS_RULES = {
    "identity": "sealed with that person's key; shown on a basis for that person (consent "
    "covering the reader's agency, or a seat on a support council that took the case)",
    "sensitive": "sealed with the key of the person it concerns (case text: the main person); "
    "shown on the same basis, and to the municipality, the coordinator and the municipality's "
    "integration client, which run the case (R-INT-1)",
    "council": "sealed; shown to the support council's members and the municipality only "
    "(R-CON-2, R-ORG-2)",
    "workflow": "plain; shown to every reader of the case, in the feed and in webhooks",
}


def class_table() -> str:
    """Return the README's table of field classes, rendered from the classification."""
    from service.domain.classification import EVENT_OVERRIDES, FIELD_CLASSES, DataClass

    lines = ["| class | protection | fields |", "|---|---|---|"]
    for cls in DataClass:
        fields = sorted(k for k, v in FIELD_CLASSES.items() if v is cls)
        names = ", ".join(f"`{f}`" for f in fields)
        lines.append(f"| `{cls}` | {CLASS_RULES[str(cls)]} | {names} |")
    lines += ["", "| event | field | class |", "|---|---|---|"]
    lines += [f"| `{e}` | `{k}` | `{c}` |" for (e, k), c in sorted(EVENT_OVERRIDES.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="kasane", description="Kasane service commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    serve = sub.add_parser("serve", help="migrate, then serve the API with uvicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("diagram", help="write the Mermaid state diagrams (files and README)")
    sub.add_parser("openapi", help="write openapi/openapi.json")
    sub.add_parser("roles", help="write the README's role table from the permissions table")
    sub.add_parser("classes", help="write the README's table of field classes")
    projections = sub.add_parser("projections", help="read-model maintenance")
    projections.add_argument("action", choices=["rebuild"])
    replay = sub.add_parser("replay", help="print a case's timeline (workflow facts only)")
    replay.add_argument("case_id")
    until = replay.add_mutually_exclusive_group()
    until.add_argument("--as-of", help="stop at this RFC 3339 time (with offset)")
    until.add_argument("--version", type=int, help="stop at this case version")
    erase = sub.add_parser("erase", help="destroy a person's data key (crypto-shredding)")
    erase.add_argument("case_id")
    erase.add_argument("person_id", help="`person` or a household member's id")
    erase.add_argument("--municipality", required=True, help="the case's municipality")
    erase.add_argument("--reason", required=True, help="retention ended, or the lawful request")
    verify = sub.add_parser("verify", help="recompute the hash chains; non-zero if tampered")
    verify.add_argument("case_id", nargs="?", help="only this case (or meeting); default all")
    _add_credential_commands(sub)
    _add_webhook_commands(sub)
    _add_workflow_commands(sub)
    _add_report_command(sub)
    _add_idempotency_commands(sub)
    args = parser.parse_args(argv)

    from service.settings import get_settings

    settings = get_settings()
    if args.command == "migrate":
        from service.persistence.migrate import upgrade

        upgrade(settings.database_url)
    elif args.command == "serve":
        return _serve(args, settings)
    elif args.command == "diagram":
        from service.domain.workflow import load_workflow, support_case_workflow

        mermaid = support_case_workflow().mermaid()
        DIAGRAM.write_text(mermaid, encoding="utf-8")
        readme = readme_with_diagram(README.read_text(encoding="utf-8"), mermaid)
        for name in ENGAGEMENT_WORKFLOWS:
            drawn = load_workflow(name).mermaid()
            (DIAGRAM.parent / f"{name}.mmd").write_text(drawn, encoding="utf-8")
            readme = readme_with_diagram(readme, drawn, name)
        README.write_text(readme, encoding="utf-8")
    elif args.command == "openapi":
        OPENAPI.write_text(openapi_document(), encoding="utf-8")
    elif args.command == "roles":
        README.write_text(
            readme_with_roles(README.read_text(encoding="utf-8"), role_table()), encoding="utf-8"
        )
    elif args.command == "classes":
        readme = README.read_text(encoding="utf-8")
        README.write_text(
            readme_with_block(readme, CLASSES_BEGIN, CLASSES_END, class_table()), encoding="utf-8"
        )
    elif args.command == "projections":
        return _rebuild(settings)
    elif args.command == "replay":
        return _replay(args, settings)
    elif args.command == "erase":
        from service.application.kasane import Kasane
        from service.domain.values import Actor, Role

        operator = Actor(args.municipality, "kasane-cli", Role.municipality)
        app = Kasane(settings.database_url, settings.master_key)
        erased = app.erase_person(operator, args.case_id, args.person_id, args.reason)
        print("erased" if erased else "already erased")
    elif args.command == "apikeys":
        return _apikeys(args, settings.database_url)
    elif args.command == "token":
        return _token(args, settings)
    elif args.command == "webhooks":
        return _webhooks(args, settings)
    elif args.command == "verify":
        return _verify(args.case_id, settings.database_url)
    elif args.command == "workflows":
        return _workflows(args, settings)
    elif args.command == "report":
        return _report(args, settings)
    elif args.command == "idempotency":
        return _idempotency(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
