"""The `kasane` command: migrate, serve, diagram, openapi, projections."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DIAGRAM = ROOT / "workflows" / "support_case.mmd"
OPENAPI = ROOT / "openapi" / "openapi.json"
BEGIN, END = "<!-- diagram:begin -->", "<!-- diagram:end -->"


def openapi_document() -> str:
    """Return the OpenAPI document of the app as stable JSON."""
    from service.main import create_app
    from service.settings import Settings

    app = create_app(Settings(database_url="sqlite://"))
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def readme_with_diagram(readme: str, mermaid: str) -> str:
    """Return the README text with the diagram block replaced."""
    head, _, rest = readme.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n```mermaid\n{mermaid}```\n{END}{tail}"


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
    projections = sub.add_parser("projections", help="read-model maintenance")
    projections.add_argument("action", choices=["rebuild"])
    args = parser.parse_args(argv)

    from service.settings import get_settings

    settings = get_settings()
    if args.command == "migrate":
        from service.persistence.migrate import upgrade

        upgrade(settings.database_url)
    elif args.command == "serve":
        import uvicorn

        from service.persistence.migrate import upgrade

        upgrade(settings.database_url)
        uvicorn.run(
            "service.main:app", host=args.host or settings.host, port=args.port or settings.port
        )
    elif args.command == "diagram":
        from service.domain.workflow import support_case_workflow

        mermaid = support_case_workflow().mermaid()
        DIAGRAM.write_text(mermaid, encoding="utf-8")
        README.write_text(
            readme_with_diagram(README.read_text(encoding="utf-8"), mermaid), encoding="utf-8"
        )
    elif args.command == "openapi":
        OPENAPI.write_text(openapi_document(), encoding="utf-8")
    elif args.command == "projections":
        from service.application.kasane import Kasane

        position = Kasane(settings.database_url).rebuild_read_models()
        print(f"read models rebuilt up to position {position}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
