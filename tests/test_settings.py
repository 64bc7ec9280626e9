"""Settings come from the environment, with clear messages for values we cannot use."""

from __future__ import annotations

import pytest

from api.settings import Settings, SettingsError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)
    assert settings.max_page_size == 500
    assert settings.database_url == ""


def test_values_are_read() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://a@b/c",
            "MAR_HOST": "0.0.0.0",
            "MAR_PORT": "9000",
            "MAR_GRAPHIQL": "false",
            "MAR_LOG_LEVEL": "debug",
        }
    )
    assert settings.database_url == "postgresql://a@b/c"
    assert (settings.host, settings.port, settings.graphiql) == ("0.0.0.0", 9000, False)
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"MAR_PORT": "eighty"}, "MAR_PORT must be a whole number"),
        ({"MAR_PORT": "70000"}, "MAR_PORT must be between 1 and 65535"),
        ({"MAR_GRAPHIQL": "perhaps"}, "MAR_GRAPHIQL must be true or false"),
        ({"MAR_LOG_LEVEL": "LOUD"}, "MAR_LOG_LEVEL must be"),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_database_url_is_required_to_serve() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        Settings.from_env({}).require_database_url()


def test_env_example_lists_every_variable() -> None:
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    read = set(
        re.findall(r'"((?:MAR_[A-Z_]+)|DATABASE_URL)"', (root / "api/settings.py").read_text())
    )
    listed = (root / ".env.example").read_text()
    assert read, "no variables found in settings.py"
    assert {name for name in read if name not in listed} == set()
