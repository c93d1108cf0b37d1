"""Is reuse across *similar* questions safe? Cosine of the shipped embedder (all-MiniLM-L6-v2 int8)
between paraphrases (the same question, other words) and near-misses (other questions, alike words).

    python benchmarks/reuse_similar.py

A threshold is safe only above every near-miss, and useful only below most paraphrases. Measured
here: paraphrases 0.727-0.941 (0.991 for a case/punctuation change, which exact reuse already
catches by normalizing), near-misses up to 0.911 ("root cause of each open ticket" vs "... closed
ticket"). No threshold is both, so create_job has no reuse="similar".
"""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from rlm_mcp.embedding.model import FastEmbedder

e = FastEmbedder()
pairs_same = [
    ("How many tickets per status?", "Count the tickets by status."),
    ("How many tickets per status?", "What is the number of tickets in each status?"),
    ("What is the root cause of each open ticket?", "For every open ticket, what caused it?"),
    ("Which functions mishandle negative totals?", "Find the handlers that get negative totals wrong."),
    ("Which handlers mishandle negative totals?", "which handlers mishandle negative totals"),
    ("Summarize the security issues in this code.", "What security problems does this code have?"),
    ("List every mention of a refund.", "Find all the places that mention refunds."),
]
pairs_diff = [
    ("How many tickets per status?", "How many tickets per year?"),
    ("How many tickets per status?", "How many tickets per priority?"),
    ("What is the root cause of each open ticket?", "What is the root cause of each closed ticket?"),
    ("Which functions mishandle negative totals?", "Which functions mishandle empty lists?"),
    ("Summarize the security issues in this code.", "Summarize the performance issues in this code."),
    ("List every mention of a refund.", "List every mention of a discount."),
    ("Which customers complained about delivery?", "Which customers praised delivery?"),
    ("Find bugs in error handling.", "Find bugs in logging."),
]


def cos(a: str, b: str) -> float:
    va = np.asarray(e.embed_query(a)).ravel()
    vb = np.asarray(e.embed_query(b)).ravel()
    return float(va @ vb / np.linalg.norm(va) / np.linalg.norm(vb))


s = [cos(a, b) for a, b in pairs_same]
d = [cos(a, b) for a, b in pairs_diff]
for (a, b), c in zip(pairs_same, s, strict=True):
    print(f"same {c:.3f} | {a} | {b}")
for (a, b), c in zip(pairs_diff, d, strict=True):
    print(f"diff {c:.3f} | {a} | {b}")
print(f"paraphrases: min {min(s):.3f}; near-misses: max {max(d):.3f}")
