"""Dependency direction (ARCHITECTURE.md): api -> db, never back; alembic imports neither."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names)


def imported_top_levels(folder: Path) -> dict[str, set[str]]:
    """Map each .py file under `folder` to the top-level packages it imports."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_db_imports_only_asyncpg_and_the_standard_library() -> None:
    for path, names in imported_top_levels(ROOT / "db").items():
        foreign = names - STDLIB - {"asyncpg", "db"}
        assert not foreign, f"{path} imports {sorted(foreign)}"


def test_alembic_imports_neither_api_nor_db() -> None:
    for path, names in imported_top_levels(ROOT / "alembic").items():
        assert not names & {"api", "db"}, f"{path} imports the application"


def test_only_settings_reads_the_environment() -> None:
    for folder in ("api", "db"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py":
                continue
            text = path.read_text()
            assert "os.environ" not in text and "getenv(" not in text, f"{path} reads the env"


def test_sql_lives_in_db_queries() -> None:
    keywords = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM")
    for path in (ROOT / "api").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.upper()
                assert not any(text.lstrip().startswith(k) for k in keywords), (
                    f"{path.relative_to(ROOT)} holds SQL: {node.value[:40]!r}"
                )
