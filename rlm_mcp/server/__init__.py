"""The MCP interface: thin wrappers that parse arguments, call the core and render its answer."""

from .app import SERVER_NAME, create_server, serve_stdio
from .common import respond

__all__ = ["SERVER_NAME", "create_server", "respond", "serve_stdio"]
