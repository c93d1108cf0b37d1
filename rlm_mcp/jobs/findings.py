"""What an analyst submits: the submission's shape and its validation (whether each quote really
occurs in the task's text is `evidence`).

A submission is validated whole before anything is stored: one error message lists every problem and
shows the expected shape, so a model can fix it in one retry.
"""

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..ids import parse_id

MAX_SUBMISSION_CHARS = 400_000  # a real task's findings are a few kB; this refuses runaway payloads
MAX_FINDINGS = 200
MAX_TITLE = 300
MAX_DETAIL = 4000
MAX_EVIDENCE = 2000
MAX_TAGS = 10
MAX_FOLLOW_UPS = 20
MAX_DIMENSIONS = 100
MAX_VALUES_PER_DIMENSION = 5000
MAX_ERRORS_SHOWN = 12
RELEVANCES = ("high", "medium", "low", "none")
SEVERITIES = ("critical", "high", "medium", "low", "info")
STAT_KEYS = ("n", "sum", "min", "max")
FINDING_KEYS = frozenset(
    {"title", "detail", "evidence", "chunk_id", "record", "line", "kind", "severity", "tags"}
)
MAX_LABELS = 20_000  # labels of one submission, over all dimensions
SHAPE = (
    "Expected: findings=[{title: str, detail: str, evidence: verbatim quote from the chunk, chunk_id: "
    "'c12' (a chunk of this task; or record: 1042 in a task of records), line?: int, kind?: str, "
    "severity?: critical|high|medium|low|info, tags?: [str]}], summary?: str, relevance?: "
    "high|medium|low|none, counts?: {dimension: {value: int >= 0}}, stats?: {metric: {n: int, sum: "
    "number, min: number, max: number}}, labels?: {dimension: {record: value}}, follow_up?: [str]."
)


@dataclass(frozen=True, slots=True)
class FindingIn:
    title: str
    detail: str
    evidence: str
    chunk_id: int | None  # None when the finding names its record instead (a task of records)
    line: int | None
    kind: str | None
    severity: str | None
    tags: tuple[str, ...]
    record: int | None = None


@dataclass(frozen=True, slots=True)
class Stat:
    n: int
    sum: float
    min: float | None
    max: float | None


@dataclass(frozen=True, slots=True)
class Submission:
    findings: tuple[FindingIn, ...]
    summary: str | None
    relevance: str | None
    counts: dict[str, dict[str, int]]
    stats: dict[str, Stat]
    follow_up: tuple[str, ...]
    ignored_keys: tuple[str, ...]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def digest(self) -> str:
        """Same content, same digest: a repeated submission is recognised and stored once."""
        payload = {k: v for k, v in asdict(self).items() if k != "ignored_keys"}
        if not payload["labels"]:  # digests of submissions without labels stay what they were
            del payload["labels"]
        for finding in payload["findings"]:
            if finding["record"] is None:
                del finding["record"]
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _text(errors: list[str], where: str, value: Any, limit: int, required: bool) -> str | None:
    if value is None or (value == "" and not required):
        if required:
            errors.append(f"{where} is missing")
        return None
    if not isinstance(value, str):
        errors.append(f"{where} must be a string, got {type(value).__name__}")
        return None
    if required and not value.strip():
        errors.append(f"{where} is empty")
    if len(value) > limit:
        errors.append(f"{where} is {len(value)} characters; at most {limit}")
    return value


def _chunk_id(errors: list[str], where: str, value: Any) -> int | None:
    if value is None:
        errors.append(f"{where}.chunk_id is missing")
        return None
    try:
        return parse_id(value, "c")
    except InvalidInput:
        errors.append(f"{where}.chunk_id {value!r} is not a chunk id like 'c12'")
        return None


def _tags(errors: list[str], where: str, value: Any) -> tuple[str, ...]:
    tags = value or []
    tags = [tags] if isinstance(tags, str) else tags
    if not isinstance(tags, list) or not all(isinstance(t, str) and 0 < len(t) <= 60 for t in tags):
        errors.append(f"{where}.tags must be a list of short strings")
        return ()
    return tuple(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))[:MAX_TAGS]


def _finding(errors: list[str], i: int, raw: Any, ignored: set[str]) -> FindingIn | None:
    where = f"findings[{i}]"
    if not isinstance(raw, Mapping):
        errors.append(f"{where} must be an object, got {type(raw).__name__}")
        return None
    ignored.update(str(k) for k in raw if k not in FINDING_KEYS)
    title = _text(errors, f"{where}.title", raw.get("title"), MAX_TITLE, True)
    detail = _text(errors, f"{where}.detail", raw.get("detail", ""), MAX_DETAIL, False) or ""
    evidence = _text(errors, f"{where}.evidence", raw.get("evidence"), MAX_EVIDENCE, True)
    kind = _text(errors, f"{where}.kind", raw.get("kind"), 50, False)
    severity = _text(errors, f"{where}.severity", raw.get("severity"), 20, False)
    if severity is not None and severity.lower() not in SEVERITIES:
        errors.append(f"{where}.severity {severity!r} is not one of {'|'.join(SEVERITIES)}")
    record = _record(errors, where, raw.get("record"))
    chunk_id = (
        None
        if raw.get("chunk_id") is None and record is not None
        else _chunk_id(errors, where, raw.get("chunk_id"))
    )
    line = raw.get("line")
    if isinstance(line, str) and line.strip().isdigit():  # "42" sent as a string
        line = int(line.strip())
    if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
        errors.append(f"{where}.line must be a positive integer")
        line = None
    clean_tags = _tags(errors, where, raw.get("tags"))
    if title is None or evidence is None or (chunk_id is None and record is None):
        return None
    return FindingIn(
        title.strip(),
        detail.strip(),
        evidence,
        chunk_id,
        line,
        kind and kind.strip().lower(),
        severity and severity.lower(),
        clean_tags,
        record,
    )


def _record(errors: list[str], where: str, value: Any) -> int | None:
    if value is None:
        return None
    text = str(value).strip().lower().removeprefix("r")
    if isinstance(value, bool) or not text.isdigit() or int(text) < 1 or int(text) > 2**62:
        errors.append(f"{where}.record {value!r} is not a record number like 1042")
        return None
    return int(text)


def _labels(errors: list[str], raw: Any) -> dict[str, dict[str, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append("labels must be an object {dimension: {record: value}}")
        return {}
    if len(raw) > MAX_DIMENSIONS:
        errors.append(f"labels has {len(raw)} dimensions; at most {MAX_DIMENSIONS}")
    labels: dict[str, dict[str, str]] = {}
    total = 0
    for dimension, values in raw.items():
        if not isinstance(values, Mapping):
            errors.append(
                f"labels[{dimension!r}] must be an object {{record: value}}, e.g. {{'1042': 'auth'}}"
            )
            continue
        clean: dict[str, str] = {}
        for record, value in values.items():
            if isinstance(value, bool):
                value = "true" if value else "false"
            elif isinstance(value, int | float) and math.isfinite(value):
                value = str(value)
            if not isinstance(value, str) or not value.strip() or len(value) > 200:
                errors.append(
                    f"labels[{dimension!r}][{record!r}] = {value!r}: a label is a short text "
                    "(1-200 characters)"
                )
                continue
            clean[str(record)] = value
        total += len(clean)
        labels[str(dimension).strip()] = clean
    if total > MAX_LABELS:
        errors.append(f"{total} labels; at most {MAX_LABELS:,} per submission")
    return labels


def _counts(errors: list[str], raw: Any) -> dict[str, dict[str, int]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append("counts must be an object {dimension: {value: int}}")
        return {}
    if len(raw) > MAX_DIMENSIONS:
        errors.append(f"counts has {len(raw)} dimensions; at most {MAX_DIMENSIONS}")
    counts: dict[str, dict[str, int]] = {}
    for dimension, values in raw.items():
        if not isinstance(values, Mapping):
            errors.append(f"counts[{dimension!r}] must be an object {{value: int}}")
            continue
        if len(values) > MAX_VALUES_PER_DIMENSION:
            errors.append(
                f"counts[{dimension!r}] has {len(values)} values; at most {MAX_VALUES_PER_DIMENSION}"
            )
        clean: dict[str, int] = {}
        for value, n in values.items():
            if isinstance(n, float) and n.is_integer():
                n = int(n)
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                errors.append(f"counts[{dimension!r}][{value!r}] = {n!r}: counts are integers >= 0")
                continue
            clean[str(value)] = n
        counts[str(dimension)] = clean
    return counts


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def _stat(errors: list[str], metric: str, raw: Any) -> Stat | None:
    where = f"stats[{metric!r}]"
    if not isinstance(raw, Mapping) or any(k not in STAT_KEYS and k != "mean" for k in raw):
        errors.append(f"{where} must be {{n, sum, min, max}}")
        return None
    n = raw.get("n")
    if isinstance(n, float) and n.is_integer():
        n = int(n)
    total, low, high = _number(raw.get("sum")), _number(raw.get("min")), _number(raw.get("max"))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        errors.append(f"{where}.n must be an integer >= 0")
        return None
    if n == 0:
        return Stat(0, total or 0, None, None)
    if total is None or low is None or high is None:
        errors.append(f"{where} needs numeric sum, min and max when n > 0")
        return None
    slack = 1e-9 * max(1.0, abs(total), abs(low) * n, abs(high) * n)
    if low > high or total < low * n - slack or total > high * n + slack:
        errors.append(f"{where} is inconsistent: need min <= max and n*min <= sum <= n*max")
        return None
    return Stat(n, total, low, high)


def _strings(errors: list[str], name: str, raw: Any, limit: int) -> tuple[str, ...]:
    if raw is None:
        return ()
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not all(isinstance(s, str) and len(s) <= 1000 for s in raw):
        errors.append(f"{name} must be a list of strings")
        return ()
    if len(raw) > limit:
        errors.append(f"{name} has {len(raw)} items; at most {limit}")
    return tuple(s.strip() for s in raw if s.strip())


def _findings(errors: list[str], raw: Any, ignored: set[str]) -> tuple[FindingIn, ...]:
    if raw is None:
        return ()
    if isinstance(raw, Mapping):  # one finding sent on its own instead of a list of one
        raw = [raw]
    if not isinstance(raw, list):
        errors.append(f"findings must be a list of objects, got {type(raw).__name__}")
        return ()
    if len(raw) > MAX_FINDINGS:
        errors.append(f"{len(raw)} findings; at most {MAX_FINDINGS} per task (fold similar ones)")
    parsed = [_finding(errors, i, item, ignored) for i, item in enumerate(raw[:MAX_FINDINGS])]
    return tuple(f for f in parsed if f is not None)


def _stats(errors: list[str], raw: Any) -> dict[str, Stat]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append("stats must be an object {metric: {n, sum, min, max}}")
        return {}
    parsed = {str(metric): _stat(errors, str(metric), value) for metric, value in raw.items()}
    return {metric: stat for metric, stat in parsed.items() if stat is not None}


def parse_submission(
    findings: Any,
    summary: Any = None,
    relevance: Any = None,
    counts: Any = None,
    stats: Any = None,
    follow_up: Any = None,
    labels: Any = None,
) -> Submission:
    """Validate a whole submission; raise one InvalidInput listing every problem and the shape."""
    size = len(json.dumps([findings, summary, counts, stats, follow_up, labels], default=str))
    if size > MAX_SUBMISSION_CHARS:
        raise InvalidInput(
            f"Submission is {size:,} characters; at most {MAX_SUBMISSION_CHARS:,}. Nothing was stored. "
            "Send short verbatim quotes and at most a few dozen findings per task. " + SHAPE
        )
    errors: list[str] = []
    ignored: set[str] = set()
    parsed = _findings(errors, findings, ignored)
    relevance_text = _text(errors, "relevance", relevance, 20, False)
    if relevance_text is not None and relevance_text.lower() not in RELEVANCES:
        errors.append(f"relevance {relevance_text!r} is not one of {'|'.join(RELEVANCES)}")
    submission = Submission(
        findings=parsed,
        summary=_text(errors, "summary", summary, MAX_DETAIL, False),
        relevance=relevance_text.lower() if relevance_text else None,
        counts=_counts(errors, counts),
        stats=_stats(errors, stats),
        follow_up=_strings(errors, "follow_up", follow_up, MAX_FOLLOW_UPS),
        ignored_keys=tuple(sorted(ignored)),
        labels=_labels(errors, labels),
    )
    if errors:
        shown = "; ".join(errors[:MAX_ERRORS_SHOWN])
        more = f" (and {len(errors) - MAX_ERRORS_SHOWN} more)" if len(errors) > MAX_ERRORS_SHOWN else ""
        raise InvalidInput(f"Submission refused, nothing stored: {shown}{more}. {SHAPE}")
    return submission
