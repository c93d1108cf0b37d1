"""`rlm-mcp migrate --to postgresql://…`: copy the SQLite store to a team's PostgreSQL server."""

import argparse
import json

from ..errors import InvalidInput
from ..store import is_postgres_dsn, migrate_sqlite, redact_dsn
from ..workspace import Workspace


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="copy the SQLite store (documents, chunks, vectors, jobs, labels, copies) to PostgreSQL",
        description="Copy the SQLite store (--db or RLM_DB, else <project>/.rlm/rlm.db) into the "
        "project's schema (RLM_PROJECT, else the project folder's name) on a PostgreSQL server, the "
        "columnar copy files with it. Ids are kept; every table's count is checked; running it again "
        "copies only what is new.",
    )
    parser.add_argument("--to", required=True, metavar="DSN", help="postgresql://user@host/db")
    parser.add_argument(
        "--project", help="the project's schema key (default: $RLM_PROJECT or the folder name)"
    )
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    parser.set_defaults(handler=run_migrate)


def run_migrate(args: argparse.Namespace, context: Workspace) -> int:
    if not is_postgres_dsn(args.to):
        raise InvalidInput("migrate --to takes a PostgreSQL URL such as postgresql://user@host/db.")
    settings = context.settings
    project = args.project or settings.project_key
    copied = migrate_sqlite(settings.db_path, args.to, project)
    target = redact_dsn(args.to)
    if args.json:
        tables = {c.table: {"source": c.source, "inserted": c.inserted, "present": c.present} for c in copied}
        print(json.dumps({"from": str(settings.db_path), "to": target, "project": project, "tables": tables}))
        return 0
    print(f"copied {settings.db_path} → {target} (project {project}); every count checked:")
    for c in copied:
        print(f"  {c.table:<14} {c.source:>9} rows, {c.inserted} new")
    print("Next: RLM_DB=<that URL> (and RLM_PROJECT) serves this store to every member of the team.")
    return 0
