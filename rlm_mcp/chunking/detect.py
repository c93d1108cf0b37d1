"""Content-type detection: the extension first, then a sniff of the first lines.

A `.txt` that is really CSV, a JSONL file without `.jsonl`, a log with timestamps, a script with a
shebang: each is recognised from its first few kilobytes. The caller's `content_type=` overrides both.
"""

import json
import re
from pathlib import Path

MARKDOWN_EXTENSIONS = {".md", ".markdown", ".mdx", ".rst"}
TABULAR_EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".psv": "csv"}
JSON_EXTENSIONS = {
    ".json": "json",
    ".geojson": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".jsonlines": "jsonl",
}
LOG_EXTENSIONS = {".log", ".out", ".err"}

# Languages whose grammar ships in tree-sitter-language-pack 0.13 and was tried here (an allowlist:
# some bundled grammars hang on foreign input, so only these are ever run).
CODE_EXTENSIONS = {
    ".py": "python", ".pyi": "python", ".pyw": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
    ".rb": "ruby", ".php": "php", ".cs": "csharp",
    ".kt": "kotlin", ".kts": "kotlin", ".scala": "scala", ".swift": "swift",
    ".sh": "bash", ".bash": "bash", ".lua": "lua",
}  # fmt: skip
SHEBANG_LANGUAGES = {"python": "python", "node": "javascript", "ruby": "ruby", "php": "php", "bash": "bash",
                     "sh": "bash", "lua": "lua"}  # fmt: skip

SNIFF_LINES = 20
KEY_VALUE = re.compile(r"^\s*[A-Za-z][\w .-]{0,40}:\s")  # `Date: …`, `User: …`: a log's fields, not a table's
DELIMITERS = (",", "\t", ";", "|")
LOG_LINE = re.compile(
    r"^(?:\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d"  # ISO timestamp
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d"  # syslog
    r"|\d{1,3}(?:\.\d{1,3}){3} \S+ \S+ \["  # access log
    r"|\[?(?:TRACE|DEBUG|INFO|WARN|WARNING|ERROR|FATAL|CRITICAL)\b)"
)


def language_for(path: Path, head: str = "") -> str | None:
    """The tree-sitter language of a source file, or None when it is not code we parse."""
    language = CODE_EXTENSIONS.get(path.suffix.lower())
    if language:
        return language
    first = head.split("\n", 1)[0]
    if first.startswith("#!"):
        for word in reversed(re.split(r"[\s/]+", first[2:].strip())):
            name = re.sub(r"[\d.]+$", "", word)
            if name in SHEBANG_LANGUAGES:
                return SHEBANG_LANGUAGES[name]
    return None


def detect_content_type(path: Path, head: str) -> str:
    """The content type of a file from its name and its first few kilobytes of text."""
    suffix = path.suffix.lower()
    if suffix in MARKDOWN_EXTENSIONS:
        return "markdown"
    if suffix in TABULAR_EXTENSIONS:
        return TABULAR_EXTENSIONS[suffix]
    if suffix in JSON_EXTENSIONS:
        kind = JSON_EXTENSIONS[suffix]
        return "jsonl" if kind == "json" and _looks_like_jsonl(head) else kind
    if language_for(path, head):
        return "code"
    if suffix in LOG_EXTENSIONS:
        return "log"
    return sniff_content_type(head)


def sniff_content_type(head: str) -> str:
    """Guess from content alone: jsonl, json, csv, tsv, log, else text."""
    text = head.lstrip("\ufeff")
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        if _looks_like_jsonl(text):
            return "jsonl"
        return "json"
    lines = _complete_lines(text)
    if len(lines) >= 3 and sum(bool(LOG_LINE.match(line)) for line in lines) >= 0.6 * len(lines):
        return "log"
    delimiter = sniff_delimiter(lines)
    if delimiter and _table_evidence(lines, delimiter):
        return "tsv" if delimiter == "\t" else "csv"
    if delimiter and len(lines) >= 3:
        return "log"  # one record per line with a separator, but not a table: lines, every one kept
    return "text"


def _table_evidence(lines: list[str], delimiter: str) -> bool:
    """A file without a table's extension is a table only with real evidence: its fields are not
    `Key: value` pairs, and the delimiter is not a doubled separator (` || `) in every line, which
    would make every other column empty and the first record a header that is not one."""
    sample = [line for line in lines[:SNIFF_LINES] if line.strip()]
    doubled = all(delimiter * 2 in line for line in sample)
    return not doubled and not looks_like_key_values([line.split(delimiter) for line in sample])


def looks_like_key_values(rows: list[list[str]]) -> bool:
    """Most fields read `Key: value`: records of a log, whose first line is no header."""
    fields = [field for row in rows for field in row if field.strip()]
    return bool(fields) and sum(bool(KEY_VALUE.match(f)) for f in fields) >= 0.6 * len(fields)


def sniff_delimiter(lines: list[str]) -> str | None:
    """The delimiter that splits the first lines into the same number (≥ 2) of fields, if any."""
    sample = [line for line in lines[:SNIFF_LINES] if line.strip()]
    if len(sample) < 2:
        return None
    for delimiter in DELIMITERS:
        counts = {_count_outside_quotes(line, delimiter) for line in sample}
        if len(counts) == 1 and min(counts) >= 1:
            if delimiter in (",", ";") and _looks_like_prose(sample):
                continue
            return delimiter
    return None


def _count_outside_quotes(line: str, delimiter: str) -> int:
    if '"' not in line:
        return line.count(delimiter)
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _looks_like_prose(lines: list[str]) -> bool:
    """Sentences with one comma each look like CSV to a counter; many words per field give them away."""
    words = sum(len(line.split()) for line in lines)
    fields = sum(line.count(",") + line.count(";") + 1 for line in lines)
    return words > 4 * fields


def _complete_lines(text: str) -> list[str]:
    lines = text.splitlines()
    if lines and not text.endswith(("\n", "\r")) and len(lines) > 1:
        lines = lines[:-1]  # the head may cut the last line
    return lines[:SNIFF_LINES]


def _looks_like_jsonl(head: str) -> bool:
    """Two or more complete lines, each one JSON object or array on its own."""
    lines = [line for line in _complete_lines(head.lstrip("\ufeff")) if line.strip()]
    if len(lines) < 2:
        return False
    for line in lines[:5]:
        stripped = line.strip()
        if not stripped.startswith(("{", "[")):
            return False
        try:
            json.loads(stripped)
        except ValueError:
            return False
    return True
