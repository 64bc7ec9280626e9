"""The first hour: .env is read (the environment wins), `./mar` finds the private database by
itself, and `make run` / `mar serve` fail loudly, naming MAR_PORT, when the port is taken."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from api.settings import Settings, SettingsError, private_database_url, read_env_file

ROOT = Path(__file__).resolve().parent.parent


def test_env_file_is_read_and_the_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "my.env"
    env_file.write_text(
        "# a comment\n\nMAR_PORT=9001\nexport MAR_LOG_LEVEL='debug'\n"
        'MAR_CORS_ORIGINS="https://a.example.org"  \nMAR_HOST=0.0.0.0 # all addresses\n'
    )
    monkeypatch.setenv("MAR_ENV_FILE", str(env_file))
    monkeypatch.setenv("MAR_LOG_LEVEL", "warning")
    monkeypatch.delenv("MAR_PORT", raising=False)
    monkeypatch.delenv("MAR_HOST", raising=False)
    monkeypatch.delenv("MAR_CORS_ORIGINS", raising=False)
    settings = Settings.from_env()
    assert settings.port == 9001 and settings.host == "0.0.0.0"
    assert settings.log_level == "WARNING"  # the environment wins over the file
    assert settings.cors_origins == ("https://a.example.org",)
    # An explicit mapping is read as it is: no file.
    assert Settings.from_env({"MAR_ENV_FILE": str(env_file)}).port == 8000
    # Off: MAR_ENV_FILE empty (what the tests run with), or no such file.
    monkeypatch.setenv("MAR_ENV_FILE", "")
    assert Settings.from_env().port == 8000
    monkeypatch.setenv("MAR_ENV_FILE", str(tmp_path / "none.env"))
    assert Settings.from_env().port == 8000


def test_a_bad_env_file_line_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("MAR_PORT=1\nthis is not a setting\n")
    with pytest.raises(SettingsError, match=r"\.env:2: expected NAME=value"):
        read_env_file(env_file)


def test_the_tests_never_read_a_developers_env() -> None:
    assert os.environ["MAR_ENV_FILE"] == ""


def postmaster_pid(folder: Path, pid: int, port: int) -> None:
    data = folder / "pg" / "data"
    data.mkdir(parents=True)
    (data / "postmaster.pid").write_text(f"{pid}\n{data}\n1700000000\n{port}\n/run\n127.0.0.1\n")


def test_the_private_database_is_found_while_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    running, gone, empty = tmp_path / "running", tmp_path / "gone", tmp_path / "empty"
    postmaster_pid(running, os.getpid(), 54999)
    dead = subprocess.Popen(["true"])
    dead.wait()
    postmaster_pid(gone, dead.pid, 54998)
    empty.mkdir()
    url = "postgresql://mar:mar@127.0.0.1:54999/mar"
    assert private_database_url({"MAR_DEVDB_DIR": str(running)}) == url
    assert private_database_url({"MAR_DEVDB_DIR": str(gone)}) == ""
    assert private_database_url({"MAR_DEVDB_DIR": str(empty)}) == ""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("MAR_DEVDB_DIR", str(running))
    assert Settings.from_env().require_database_url() == url
    monkeypatch.setenv("DATABASE_URL", "postgresql://other@h/db")  # DATABASE_URL wins
    assert Settings.from_env().database_url == "postgresql://other@h/db"
    monkeypatch.delenv("DATABASE_URL")
    monkeypatch.setenv("MAR_DEVDB_DIR", str(gone))
    with pytest.raises(SettingsError, match="DATABASE_URL is not set and no private database"):
        Settings.from_env().require_database_url()


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MAR_HOST", "MAR_PORT")}
    return {**env, **extra}


def test_make_run_fails_loudly_when_its_port_is_taken(fresh_db_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(ROOT / "scripts" / "run-demo")],
            env=script_env(MAR_PORT=str(port), DATABASE_URL=fresh_db_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert "migrated" not in done.stdout  # before it starts anything
    assert f"port {port}" in done.stderr and "MAR_PORT=" in done.stderr, done.stderr


def test_mar_serve_refuses_a_port_in_use(fresh_db_url: str) -> None:
    # Bound but not listening: the early check of run-demo cannot see it; `mar serve`'s can.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(ROOT / "mar"), "serve"],
            env=script_env(MAR_PORT=str(port), DATABASE_URL=fresh_db_url),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"127.0.0.1:{port}" in done.stderr and "MAR_PORT" in done.stderr, done.stderr


def test_make_run_reads_its_port_from_env_file(fresh_db_url: str, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env_file = tmp_path / "demo.env"
        env_file.write_text(f"MAR_PORT={port}\n")
        done = subprocess.run(
            [str(ROOT / "scripts" / "run-demo")],
            env=script_env(MAR_ENV_FILE=str(env_file), DATABASE_URL=fresh_db_url),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0 and f"port {port}" in done.stderr, done.stderr
