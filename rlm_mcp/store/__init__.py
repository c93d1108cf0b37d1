"""The store: every SQL statement of the project lives in this package.

`Store` opens connections (one per thread: MCP runs sync tools in worker threads), applies the
numbered migrations, and gives short read and write transactions. One module per noun holds the
queries: `documents`, `search`, `jobs`, `vectors`.
"""

from .connection import Connection, Store, open_store

__all__ = ["Connection", "Store", "open_store"]
