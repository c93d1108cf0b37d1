"""The rows that cross the store seam: frozen dataclasses of plain Python values.

Store functions take and return these (or ints, strs and lists of them), never driver rows or
positional tuples; JSON columns are decoded here, in `store/`, so callers see dicts and lists. A second
backend implements the same functions with the same rows.

Declarations only, one module per noun: `documents` (documents, chunks, columnar copies), `jobs` (jobs,
tasks, findings, telemetry), `search` (search and vectors) and `json_columns` (the JSON codec). Import
them from here: `from ..store.rows import Finding`.
"""

from .documents import ChunkMove, CopyRow, Document, ListedDocument, NewChunk, StoredChunk, Totals
from .jobs import (
    CostSums,
    CoveredChunk,
    Finding,
    Job,
    JobDocument,
    JobTiming,
    MissingChunk,
    NewFinding,
    OpenJob,
    PlanChunk,
    RatedFinding,
    ReduceTask,
    Task,
    TaskCompletion,
    TaskCost,
    TaskResult,
    UnverifiedFinding,
)
from .json_columns import from_json, ids_from_json, tags_from_json, to_json
from .search import BitBlock, ChunkText, EmbedInput, IndexTotals

__all__ = [
    "BitBlock",
    "ChunkMove",
    "ChunkText",
    "CopyRow",
    "CostSums",
    "CoveredChunk",
    "Document",
    "EmbedInput",
    "Finding",
    "IndexTotals",
    "Job",
    "JobDocument",
    "JobTiming",
    "ListedDocument",
    "MissingChunk",
    "NewChunk",
    "NewFinding",
    "OpenJob",
    "PlanChunk",
    "RatedFinding",
    "ReduceTask",
    "StoredChunk",
    "Task",
    "TaskCompletion",
    "TaskCost",
    "TaskResult",
    "Totals",
    "UnverifiedFinding",
    "from_json",
    "ids_from_json",
    "tags_from_json",
    "to_json",
]
