"""Alembic from the service's side: the head revision, and upgrading a database to it."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from alembic import command


def alembic_config(ini: Path, database_url: str | None = None) -> Config:
    """Return the Alembic configuration of `ini`, pointed at `database_url` when given."""
    config = Config(str(ini))
    config.set_main_option("script_location", str(ini.parent / "alembic"))
    config.attributes["configure_logger"] = False
    if database_url:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache(maxsize=4)
def head_revision(ini: Path) -> str | None:
    """Return the revision the migrations end at."""
    return ScriptDirectory.from_config(alembic_config(ini)).get_current_head()


def upgrade(ini: Path, database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (the head by default)."""
    command.upgrade(alembic_config(ini, database_url), revision)
