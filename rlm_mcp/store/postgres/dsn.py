"""PostgreSQL connection strings: recognised, and shown without their password.

A DSN may carry a password in the URL (`postgresql://user:secret@host/db`), as a query parameter
(`?password=secret`) or as a `password=` keyword; every text this package writes (answers, log lines,
errors) goes through `redact_dsn` first.
"""

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
HIDDEN = "***"
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)([^@\s]*)(@)", re.IGNORECASE)


def is_postgres_dsn(raw: str) -> bool:
    return raw.strip().lower().startswith(POSTGRES_SCHEMES)


def redact_dsn(dsn: str) -> str:
    """The DSN with any password replaced by ***; the user, host, port and database stay readable."""
    if not is_postgres_dsn(dsn):
        return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + HIDDEN, dsn)
    try:
        parts = urlsplit(dsn.strip())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, _, hostinfo = netloc.rpartition("@")
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{HIDDEN}@{hostinfo}" if ":" in userinfo else f"{user}@{hostinfo}"
        query = urlencode(
            [(k, HIDDEN if k.lower() == "password" else v) for k, v in parse_qsl(parts.query, True)],
            safe="/*",
        )
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    except ValueError:  # not parseable as a URL: hide everything after the scheme
        return dsn.strip().split("://", 1)[0] + "://" + HIDDEN


def scrub(text: str, dsn: str) -> str:
    """`text` (a driver's error, say) with the DSN's password removed wherever it occurs."""
    text = _URL_PASSWORD.sub(lambda m: m.group(1) + HIDDEN + m.group(3), text)
    text = _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + HIDDEN, text)
    for secret in _passwords(dsn):
        text = text.replace(secret, HIDDEN)
    return text


def _passwords(dsn: str) -> list[str]:
    found = []
    try:
        parts = urlsplit(dsn.strip())
        if parts.password:
            found.append(parts.password)
        found += [v for k, v in parse_qsl(parts.query, True) if k.lower() == "password" and v]
    except ValueError:
        pass
    found += [m.group(2).strip("'") for m in _KEYWORD_PASSWORD.finditer(dsn)]
    return [p for p in found if len(p) >= 3 and p != HIDDEN]
