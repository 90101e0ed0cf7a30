"""The `kasane` command: migrate, serve, diagram, openapi, projections, API keys, tokens, verify."""

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


def openapi_document() -> str:
    """Return the OpenAPI document of the app as stable JSON."""
    from service.main import create_app
    from service.settings import Settings

    app = create_app(Settings(database_url="sqlite://", development_keys=False), check=False)
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def readme_with_diagram(readme: str, mermaid: str) -> str:
    """Return the README text with the diagram block replaced."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n```mermaid\n{mermaid}```\n{END}{tail}"


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
    head, _, rest = readme.partition(ROLES_BEGIN)
    _, _, tail = rest.partition(ROLES_END)
    return f"{head}{ROLES_BEGIN}\n{table}{ROLES_END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = argparse.ArgumentParser(prog="kasane", description="Kasane service commands")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply the database migrations")
    serve = sub.add_parser("serve", help="migrate, then serve the API with uvicorn")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    sub.add_parser("diagram", help="write the Mermaid state diagram (file and README)")
    sub.add_parser("openapi", help="write openapi/openapi.json")
    sub.add_parser("roles", help="write the README's role table from the permissions table")
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
    args = parser.parse_args(argv)

    from service.settings import get_settings

    settings = get_settings()
    if args.command == "migrate":
        from service.persistence.migrate import upgrade

        upgrade(settings.database_url)
    elif args.command == "serve":
        return _serve(args, settings)
    elif args.command == "diagram":
        from service.domain.workflow import support_case_workflow

        mermaid = support_case_workflow().mermaid()
        DIAGRAM.write_text(mermaid, encoding="utf-8")
        README.write_text(
            readme_with_diagram(README.read_text(encoding="utf-8"), mermaid), encoding="utf-8"
        )
    elif args.command == "openapi":
        OPENAPI.write_text(openapi_document(), encoding="utf-8")
    elif args.command == "roles":
        README.write_text(
            readme_with_roles(README.read_text(encoding="utf-8"), role_table()), encoding="utf-8"
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
