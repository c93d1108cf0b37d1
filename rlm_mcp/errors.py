"""One error hierarchy. Every message says what happened and what to call next."""


class RlmError(Exception):
    """Base of every error the core raises on purpose; its message is written for a model."""


class InvalidInput(RlmError):
    """An argument is malformed or out of range."""


class NotFound(RlmError):
    """An id or path names nothing that exists."""


class PathNotAllowed(RlmError):
    """A path lies outside the allowed roots, or a symlink leads out of them."""


class UnsupportedContent(RlmError):
    """A file cannot be loaded as text (binary, empty, unreadable)."""


class Conflict(RlmError):
    """The request clashes with the current state (a lease held by another worker, a finished task)."""


class Unavailable(RlmError):
    """An optional capability (the embedding model, a grammar) is not available here."""


class IncompleteInstall(RlmError):
    """The installed package lacks files it ships (a build that skipped them, a partial copy)."""


class Cancelled(RlmError):
    """The caller cancelled the request (MCP `notifications/cancelled`); the work stopped, nothing kept."""
