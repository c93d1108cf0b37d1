"""The `rlm-mcp` command line on a real store: the same core as the tools, with --json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import project_env


def rlm(
    project: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`env`: what selects the store (the `backend_env` fixture), the project's SQLite file by default."""
    return subprocess.run(
        [sys.executable, "-m", "rlm_mcp", *args],
        capture_output=True,
        text=True,
        cwd=project,
        env=project_env(project, **(env or {})),
        check=check,
        timeout=120,
    )


@pytest.mark.backends
def test_load_search_get_docs_rm_status_round_trip(project: Path, backend_env: dict[str, str]) -> None:
    (project / "notes.md").write_text(
        "# Tides\n\nThe spring tide rises twice a day near the pier.\n", encoding="utf-8"
    )
    loaded = json.loads(rlm(project, "load", "notes.md", "--json", env=backend_env).stdout)
    assert loaded["documents"][0]["status"] == "loaded"
    hits = json.loads(
        rlm(project, "search", "spring tide", "--mode", "bm25", "--json", env=backend_env).stdout
    )["hits"]
    assert hits and hits[0]["location"].startswith("notes.md:")
    chunk = rlm(project, "get", hits[0]["chunk_id"], env=backend_env).stdout
    assert "spring tide" in chunk and "Tides" in chunk
    docs = json.loads(rlm(project, "docs", "--json", env=backend_env).stdout)
    assert docs["total"] == 1
    status = json.loads(rlm(project, "status", "--json", env=backend_env).stdout)
    assert status["documents"] == 1 and status["chunks"] >= 1
    assert "Removed d1" in rlm(project, "rm", "d1", env=backend_env).stdout
    assert json.loads(rlm(project, "docs", "--json", env=backend_env).stdout)["total"] == 0


@pytest.mark.backends
def test_errors_go_to_stderr_with_exit_code_1(project: Path, backend_env: dict[str, str]) -> None:
    result = rlm(project, "load", "missing.txt", check=False, env=backend_env)
    assert result.returncode == 1 and result.stdout == ""
    assert "No file or directory at missing.txt" in result.stderr
    result = rlm(project, "get", "c99", check=False, env=backend_env)
    assert result.returncode == 1 and "No chunk c99" in result.stderr


@pytest.mark.backends
def test_progress_bar_goes_to_stderr_only(project: Path, backend_env: dict[str, str]) -> None:
    (project / "a.txt").write_text("words and more words\n\n" * 5000, encoding="utf-8")
    result = rlm(project, "load", "a.txt", "--progress", env=backend_env)
    assert "[" in result.stderr and "%" in result.stderr
    assert "%" not in result.stdout and "d1 a.txt" in result.stdout


@pytest.mark.backends
def test_load_docs_get_status_rm_on_either_store(project: Path, backend_env: dict[str, str]) -> None:
    (project / "notes.md").write_text("# Tides\n\nThe spring tide rises twice a day.\n", encoding="utf-8")
    loaded = json.loads(rlm(project, "load", "notes.md", "--json", env=backend_env).stdout)
    (doc,) = loaded["documents"]
    assert doc["status"] == "loaded" and doc["chunks"] >= 1
    again = json.loads(rlm(project, "load", "notes.md", "--json", env=backend_env).stdout)
    assert again["documents"][0]["status"] == "unchanged" and again["documents"][0]["id"] == doc["id"]
    chunk = rlm(project, "get", "c1", env=backend_env).stdout
    assert "spring tide" in chunk and "Tides" in chunk
    status = json.loads(rlm(project, "status", "--json", env=backend_env).stdout)
    assert status["documents"] == 1 and status["chunks"] == doc["chunks"]
    assert ("schema rlm_" in status["db_path"]) == bool(backend_env)
    assert "Removed d1" in rlm(project, "rm", "d1", env=backend_env).stdout
    assert json.loads(rlm(project, "docs", "--json", env=backend_env).stdout)["total"] == 0
    (project / "notes.md").write_text("# Tides\n\nNeap tides are smaller.\n", encoding="utf-8")
    reloaded = json.loads(rlm(project, "load", "notes.md", "--json", env=backend_env).stdout)
    assert reloaded["documents"][0]["id"] == "d2"  # ids are never reused, on either store


def test_db_flag_points_at_another_store(project: Path, tmp_path: Path) -> None:
    (project / "a.txt").write_text("hello there\n", encoding="utf-8")
    other = tmp_path / "elsewhere.db"
    rlm(project, "--db", str(other), "load", "a.txt")
    assert other.is_file()
    assert json.loads(rlm(project, "--db", str(other), "docs", "--json").stdout)["total"] == 1
    assert json.loads(rlm(project, "docs", "--json").stdout)["total"] == 0
