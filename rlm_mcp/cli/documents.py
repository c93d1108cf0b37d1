"""load, search, get, docs, rm, status: the document tools on the command line."""

import argparse
from typing import Any

from .. import documents, loading, search
from ..workspace import Workspace
from .common import ProgressBar, add_json_flag, add_progress_flag, emit


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("load", help="load a file, directory or glob into the store")
    p.add_argument("path")
    p.add_argument("--name", help="display name (single file)")
    p.add_argument("--type", dest="content_type", default="auto", help="content type (default: auto)")
    p.add_argument("--no-recursive", dest="recursive", action="store_false", help="only the top directory")
    add_progress_flag(p)
    add_json_flag(p)
    p.set_defaults(handler=load)

    p = subparsers.add_parser("search", help="search chunks (hybrid, bm25, semantic, regex)")
    p.add_argument("query")
    p.add_argument("--mode", default="hybrid", choices=list(search.MODES))
    p.add_argument("--doc", dest="document_ids", action="append", help="document id to search (repeatable)")
    p.add_argument("-k", "--top-k", type=int, default=10)
    p.add_argument("--offset", type=int, default=0)
    add_json_flag(p)
    p.set_defaults(handler=run_search)

    p = subparsers.add_parser("get", help="print a chunk with its context and neighbours")
    p.add_argument("chunk_id")
    add_json_flag(p)
    p.set_defaults(handler=get)

    p = subparsers.add_parser("docs", help="list loaded documents")
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--limit", type=int, default=50)
    add_json_flag(p)
    p.set_defaults(handler=docs)

    p = subparsers.add_parser("rm", help="remove a document from the store")
    p.add_argument("document_id")
    add_json_flag(p)
    p.set_defaults(handler=remove)

    p = subparsers.add_parser("status", help="where the store is and what it holds")
    add_json_flag(p)
    p.set_defaults(handler=show_status)


def load(args: argparse.Namespace, context: Workspace) -> int:
    bar = ProgressBar(args.progress)
    try:
        result = loading.load_document(
            context.store, context.settings, args.path, args.name, args.content_type, args.recursive, bar
        )
    finally:
        bar.finish()
    return emit(result, args.json)


def run_search(args: argparse.Namespace, context: Workspace) -> int:
    result = search.search_chunks(
        context.store,
        context.settings,
        args.query,
        args.mode,
        args.document_ids,
        args.top_k,
        args.offset,
        context.embedder,
        context.bit_indexes,
    )
    return emit(result, args.json)


def get(args: argparse.Namespace, context: Workspace) -> int:
    return emit(documents.get_chunk(context.store, args.chunk_id), args.json)


def docs(args: argparse.Namespace, context: Workspace) -> int:
    return emit(documents.list_documents(context.store, args.offset, args.limit), args.json)


def remove(args: argparse.Namespace, context: Workspace) -> int:
    return emit(documents.remove_document(context.store, args.document_id), args.json)


def show_status(args: argparse.Namespace, context: Workspace) -> int:
    return emit(documents.status(context.store, context.settings), args.json)
