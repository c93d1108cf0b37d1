"""rlm-mcp: analyse documents and codebases far larger than a context window.

The core (loading, chunking, search, jobs, synthesis) is plain Python over one SQLite file;
`server` (MCP) and `cli` are thin interfaces on top of it.
"""

__version__ = "0.1.0"
