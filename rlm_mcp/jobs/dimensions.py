"""Fixed dimensions and per-record labels: the keys analysts must count or label by, and the checks.

A job may fix its dimensions (`create_job(dimensions=["status"])`, or with vocabularies
`{"root_cause": ["auth", "network", "other"], "sentiment": None}`). Every claim repeats them, and a
submission is refused, with the right shape in the message, when it uses other keys, a value outside a
vocabulary, or (for a task that holds records: a projected task, or rows of a table) counts whose
total per dimension is not the task's number of records.

Labels (`labels={"root_cause": {"1042": "auth"}}`) judge each record once per dimension: every
record of the task exactly once, none outside it. The server derives the counts from them, so
analysts label and never count; the labels table makes later cross-tabs exact SQL.
"""

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..ids import format_id

Dimensions = dict[str, tuple[str, ...] | None]  # name -> its vocabulary, or None (open)

MAX_DIMENSIONS = 20
MAX_NAME_CHARS = 60
MAX_VOCABULARY = 200
MAX_VALUE_CHARS = 200
MAX_SHOWN = 12
RECORD_KEY = re.compile(r"^(?:d(\d+)\s*[:/]\s*)?r?(\d+)$", re.IGNORECASE)


def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > MAX_NAME_CHARS:
        raise InvalidInput(f"{what} must be a short name (1–{MAX_NAME_CHARS} characters), got {value!r}.")
    return " ".join(value.split())


def check_dimensions(raw: Any) -> Dimensions | None:
    """The dimensions create_job was given: a list of names (open vocabularies), one name, or
    {name: [values] | null}."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [raw]
    if isinstance(raw, list | tuple):
        raw = {name: None for name in raw}
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidInput(
            "dimensions must be a list of names (['status']) or {name: [allowed values] | null}, "
            "e.g. {'root_cause': ['auth', 'network', 'other'], 'sentiment': null}."
        )
    if len(raw) > MAX_DIMENSIONS:
        raise InvalidInput(f"dimensions names {len(raw)} dimensions; at most {MAX_DIMENSIONS}.")
    dimensions: Dimensions = {}
    for name, vocabulary in raw.items():
        key = _name(name, "A dimension")
        if key in dimensions:
            raise InvalidInput(f"dimension {key!r} is named twice.")
        dimensions[key] = _vocabulary(key, vocabulary)
    return dimensions


def _vocabulary(name: str, raw: Any) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, list | tuple) or not raw:
        raise InvalidInput(f"dimension {name!r}: its vocabulary must be a non-empty list of values, or null.")
    if len(raw) > MAX_VOCABULARY:
        raise InvalidInput(f"dimension {name!r} has {len(raw)} values; at most {MAX_VOCABULARY}.")
    values = [_value(v, f"dimension {name!r}: a value") for v in raw]
    folded = Counter(v.casefold() for v in values)
    twice = [v for v, n in folded.items() if n > 1]
    if twice:
        raise InvalidInput(f"dimension {name!r} lists {', '.join(map(repr, twice))} more than once.")
    return tuple(values)


def _value(value: Any, what: str) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_VALUE_CHARS:
        raise InvalidInput(f"{what} must be a short text (1–{MAX_VALUE_CHARS} characters), got {value!r}.")
    return " ".join(value.split())


def describe(dimensions: Dimensions) -> str:
    """The dimensions as a claim repeats them."""
    parts = []
    for name, vocabulary in dimensions.items():
        parts.append(
            f"{name}: one of {' | '.join(vocabulary)}" if vocabulary else f"{name}: open (your words)"
        )
    return "; ".join(parts)


def to_json(dimensions: Dimensions) -> dict[str, list[str] | None]:
    return {k: list(v) if v is not None else None for k, v in dimensions.items()}


# ---------------------------------------------------------------- the records a task holds


@dataclass(frozen=True, slots=True)
class TaskRecordSet:
    """The records a task holds, per document: runs of record numbers (rows, elements or lines)."""

    runs: dict[int, tuple[tuple[int, int], ...]]  # document id -> runs

    @property
    def total(self) -> int:
        return sum(b - a + 1 for runs in self.runs.values() for a, b in runs)

    def contains(self, document_id: int, record: int) -> bool:
        return any(a <= record <= b for a, b in self.runs.get(document_id, ()))

    def describe(self) -> str:
        parts = []
        for doc, runs in sorted(self.runs.items()):
            spans = ", ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in runs[:8])
            more = f", … ({len(runs) - 8} more runs)" if len(runs) > 8 else ""
            parts.append(f"{format_id('d', doc)} records {spans}{more}")
        return "; ".join(parts)

    def missing(self, given: set[tuple[int, int]]) -> list[tuple[int, int]]:
        """(document, record) pairs of the task not in `given`, in order."""
        out: list[tuple[int, int]] = []
        for doc, runs in sorted(self.runs.items()):
            for a, b in runs:
                out.extend((doc, n) for n in range(a, b + 1) if (doc, n) not in given)
        return out


def _runs(numbers: Sequence[int]) -> tuple[tuple[int, int], ...]:
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return tuple((a, b) for a, b in runs)


def record_set(runs: Mapping[int, Sequence[tuple[int, int]]]) -> TaskRecordSet:
    merged = {doc: _runs([n for a, b in spans for n in range(a, b + 1)]) for doc, spans in runs.items()}
    return TaskRecordSet({doc: r for doc, r in merged.items() if r})


# ---------------------------------------------------------------- checking a submission


@dataclass(frozen=True, slots=True)
class Label:
    document_id: int
    record: int
    dimension: str
    value: str


def _record_key(raw: Any, records: TaskRecordSet) -> tuple[int, int] | None:
    """(document, record) of a label's key: '1042', 'r1042', or 'd3:1042' when the task spans documents."""
    match = RECORD_KEY.match(str(raw).strip())
    if match is None:
        return None
    doc = int(match.group(1)) if match.group(1) else None
    if doc is None:
        if len(records.runs) != 1:
            return None
        doc = next(iter(records.runs))
    return doc, int(match.group(2))


def check_labels(
    raw: Mapping[str, Mapping[str, str]],
    records: TaskRecordSet | None,
    dimensions: Dimensions | None,
    task: str,
) -> list[Label]:
    """Every record of the task labelled exactly once per dimension, none outside it, values in the
    vocabularies; raise one InvalidInput listing what is wrong and the right shape."""
    if not raw:
        return []
    if records is None or not records.runs:
        raise InvalidInput(
            f"Submission refused, nothing stored: task {task} holds no numbered records, so it takes no "
            "labels. Send findings (and counts) instead."
        )
    errors: list[str] = []
    labels: list[Label] = []
    many_docs = len(records.runs) > 1
    key_shape = "'d3:1042'" if many_docs else "'1042'"
    for dimension, values in raw.items():
        if dimensions is not None and dimension not in dimensions:
            errors.append(f"labels[{dimension!r}]: not a dimension of this job (use {', '.join(dimensions)})")
            continue
        vocabulary = dimensions.get(dimension) if dimensions else None
        allowed = {v.casefold(): v for v in vocabulary} if vocabulary else None
        seen: set[tuple[int, int]] = set()
        outside, bad_values = [], []
        for key, value in values.items():
            at = _record_key(key, records)
            if at is None:
                errors.append(f"labels[{dimension!r}]: key {key!r} is not a record number like {key_shape}")
                continue
            if not records.contains(*at):
                outside.append(str(key))
                continue
            if at in seen:
                errors.append(f"labels[{dimension!r}]: record {key!r} is labelled twice")
                continue
            seen.add(at)
            text = " ".join(value.split())
            if allowed is not None:
                if text.casefold() not in allowed:
                    bad_values.append(f"{key}={value!r}")
                    continue
                text = allowed[text.casefold()]
            labels.append(Label(at[0], at[1], dimension, text))
        if outside:
            errors.append(
                f"labels[{dimension!r}]: records {', '.join(outside[:MAX_SHOWN])} are not in this task "
                f"(it holds {records.describe()})"
            )
        if bad_values:
            errors.append(
                f"labels[{dimension!r}]: {', '.join(bad_values[:MAX_SHOWN])} not in the vocabulary "
                f"{' | '.join(vocabulary or ())}"
            )
        missing = records.missing(seen)
        if missing and not outside and not bad_values:
            shown = ", ".join(_show(d, n, many_docs) for d, n in missing[:MAX_SHOWN])
            more = f" and {len(missing) - MAX_SHOWN} more" if len(missing) > MAX_SHOWN else ""
            errors.append(
                f"labels[{dimension!r}]: {len(missing)} of the task's {records.total} records have no label "
                f"({shown}{more}); label every record once"
            )
    if errors:
        raise InvalidInput(
            "Submission refused, nothing stored: " + "; ".join(errors[:MAX_SHOWN]) + ". Expected labels="
            "{dimension: {record: value}} with one value for every record of the task "
            f"({records.describe()})" + (f"; dimensions: {describe(dimensions)}" if dimensions else "") + "."
        )
    return labels


def _show(document_id: int, record: int, many_docs: bool) -> str:
    return f"{format_id('d', document_id)}:{record}" if many_docs else str(record)


def check_counts(
    counts: Mapping[str, Mapping[str, int]],
    labelled: set[str],
    records: TaskRecordSet | None,
    dimensions: Dimensions | None,
    task: str,
) -> None:
    """Counts by the job's dimensions only, values in their vocabularies, and (for a task of records)
    each dimension's total equal to the task's records; every fixed dimension counted or labelled."""
    if dimensions is None:
        return
    errors: list[str] = []
    total = records.total if records is not None and records.runs else None
    for dimension, values in counts.items():
        if dimension not in dimensions:
            errors.append(f"counts[{dimension!r}]: not a dimension of this job")
            continue
        if dimension in labelled:
            errors.append(f"counts[{dimension!r}]: send labels or counts for a dimension, not both")
            continue
        vocabulary = dimensions[dimension]
        if vocabulary:
            allowed = {v.casefold() for v in vocabulary}
            wrong = [v for v in values if v.casefold() not in allowed]
            if wrong:
                errors.append(
                    f"counts[{dimension!r}]: {', '.join(map(repr, wrong[:MAX_SHOWN]))} not in the vocabulary "
                    f"{' | '.join(vocabulary)}"
                )
        if total is not None and sum(values.values()) != total:
            errors.append(
                f"counts[{dimension!r}] adds up to {sum(values.values())}, but the task holds {total} "
                "records (count each record once, under one value)"
            )
    if total is not None:
        absent = [d for d in dimensions if d not in counts and d not in labelled]
        if absent:
            errors.append(f"no labels or counts for {', '.join(map(repr, absent))}")
    if errors:
        shape = (
            f"labels={{dimension: {{record: value}}}} for each record, or counts={{dimension: {{value: n}}}} "
            f"adding up to the task's {total} records"
            if total is not None
            else "counts={dimension: {value: n}}"
        )
        raise InvalidInput(
            f"Submission refused, nothing stored: {'; '.join(errors[:MAX_SHOWN])}. Task {task} takes "
            f"{shape}, by the job's dimensions only: {describe(dimensions)}."
        )


def normalize_counts(
    counts: Mapping[str, Mapping[str, int]], dimensions: Dimensions | None
) -> dict[str, dict[str, int]]:
    """Counts with vocabulary values spelled as the job spells them (so 'Auth' and 'auth' add up)."""
    if not dimensions:
        return {d: dict(v) for d, v in counts.items()}
    out: dict[str, dict[str, int]] = {}
    for dimension, values in counts.items():
        vocabulary = dimensions.get(dimension)
        spell = {v.casefold(): v for v in vocabulary} if vocabulary else {}
        merged: Counter[str] = Counter()
        for value, n in values.items():
            merged[spell.get(value.casefold(), value)] += n
        out[dimension] = dict(merged)
    return out
