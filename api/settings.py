"""Settings: the only module that reads the environment (prefix MAR_, plus DATABASE_URL).

The process's settings are its environment over the `.env` file of the working directory
(MAR_ENV_FILE names another; empty: none); without DATABASE_URL they use the private cluster of
`scripts/devdb` when it runs (`make run`), so `./mar …` works as the README shows it.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_PUBLIC_URL = re.compile(
    r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[^?#\s]*)?$"
)
_HOST_NAME = re.compile(r"^(\*|\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?|[0-9A-Fa-f:.]+)$")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


class SettingsError(ValueError):
    """An environment variable holds a value we cannot use."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, not {value:g}")
    return value


_BOUND = re.compile(r"^([A-Z][A-Za-z]*\.[a-z][A-Za-z]*)=([0-9]{1,9})$")


def _bounds(env: Mapping[str, str], name: str) -> tuple[tuple[str, int], ...]:
    """`Type.field=N` pairs, comma-separated (the most items a list field holds, for the cost)."""
    out = []
    for part in (env.get(name) or "").split(","):
        if not part.strip():
            continue
        found = _BOUND.match(part.strip())
        if found is None:
            raise SettingsError(f"{name} must list bounds like Team.tasks=200, not {part!r}")
        out.append((found.group(1), int(found.group(2))))
    return tuple(out)


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of browser origins (`https://host[:port]`), or `*` for any."""
    raw = env.get(name) or ""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise SettingsError(
                f"{name} must list origins like https://maps.example.org, not {origin!r}"
            )
    return origins


def _public_url(env: Mapping[str, str], name: str) -> str:
    """The service's address as its clients reach it (`https://host[:port][/path]`), or ""."""
    raw = (env.get(name) or "").strip().rstrip("/")
    if raw and not _PUBLIC_URL.match(raw):
        raise SettingsError(f"{name} must be a URL like https://records.example.org, not {raw!r}")
    return raw


def url_host(url: str) -> str:
    """The host name of an http(s) URL, lower case, an IPv6 address without its brackets."""
    authority = url.split("://", 1)[1].split("/", 1)[0]
    if authority.startswith("["):
        return authority[1 : authority.index("]")].lower()
    return authority.rsplit(":", 1)[0].lower() if ":" in authority else authority.lower()


def _allowed_hosts(env: Mapping[str, str], name: str, public_url: str) -> tuple[str, ...]:
    """Host names the service answers for: the list given (`*`: any; `.example.org`: it and its
    subdomains), else the loopback names and the host of the public URL."""
    raw = env.get(name) or ""
    hosts = tuple(part.strip().lower().strip("[]") for part in raw.split(",") if part.strip())
    for host in hosts:
        if not _HOST_NAME.match(host):
            raise SettingsError(
                f"{name} must list host names like records.example.org, not {host!r}"
            )
    if hosts:
        return hosts
    extra = (url_host(public_url),) if public_url else ()
    return tuple(dict.fromkeys(LOOPBACK_HOSTS + extra))


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """A comma-separated list of IP addresses or networks (CIDR), in their normal form."""
    raw = env.get(name) or ""
    networks = []
    for part in (p.strip() for p in raw.split(",") if p.strip()):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise SettingsError(
                f"{name} must list addresses or networks like 10.0.0.0/8, not {part!r}"
            ) from None
    return tuple(networks)


def _directory(env: Mapping[str, str], name: str) -> str:
    """An existing folder, or "" when unset."""
    raw = env.get(name) or ""
    if raw and not Path(raw).is_dir():
        raise SettingsError(f"{name} must name an existing folder, not {raw!r}")
    return raw


def _ogc_limits(env: Mapping[str, str]) -> dict[str, int]:
    """MAR_OGC_MAX_LIMIT and MAR_OGC_DEFAULT_LIMIT, the default no larger than the maximum."""
    maximum = _int(env, "MAR_OGC_MAX_LIMIT", 10_000, 1, 100_000)
    default = _int(env, "MAR_OGC_DEFAULT_LIMIT", min(1000, maximum), 1, maximum)
    return {"ogc_default_limit": default, "ogc_max_limit": maximum}


def _default_alembic_ini() -> Path:
    """alembic.ini in the working directory, else beside the installed packages (a checkout)."""
    here = Path.cwd() / "alembic.ini"
    if here.exists():
        return here
    return Path(__file__).resolve().parent.parent / "alembic.ini"


@dataclass(frozen=True)
class Settings:
    """Everything the service can be configured with; see .env.example."""

    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    anonymous_access: bool = True
    graphiql: bool = True
    response_cache: bool = True
    compiled_reads: bool = True  # read queries answered by SQL that writes their JSON
    introspection: bool = True
    pool_min_size: int = 0
    pool_max_size: int = 10
    pool_acquire_timeout_s: int = 3  # below request_timeout_s: a busy pool is a 503
    max_page_size: int = 500
    # Limits of one GraphQL document (api/graphql/limits.py); over them is QUERY_TOO_COMPLEX.
    max_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    max_cost: int = 120_000
    suggestions: bool = True  # "Did you mean …?" in validation messages
    # Requests a second per key (client address when anonymous) and the burst allowed; 0 = off.
    rate_limit_per_s: int = 20
    rate_limit_burst: int = 100
    statement_timeout_ms: int = 5000  # 0 = no limit
    max_body_bytes: int = 1_048_576
    import_max_bytes: int = 52_428_800  # POST /imports/…: 50 MiB
    cors_origins: tuple[str, ...] = ()
    alembic_ini: Path = field(default_factory=_default_alembic_ini)
    # Open WebSockets (WS /graphql) a key may hold, and an address may hold without a key.
    ws_max_per_key: int = 50
    ws_max_per_address: int = 10
    ws_max_operations: int = 20  # operations one WebSocket may run at once
    # Web and proxy hygiene (api/edge.py): links come from public_url when set; other Host
    # headers than allowed_hosts are refused; X-Forwarded-* count only from trusted_proxies;
    # failed key checks an address may make a minute before its keyed requests are refused.
    public_url: str = ""
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    trusted_proxies: tuple[str, ...] = ()
    auth_failures_per_minute: int = 20  # 0 = no limit
    # Casualties one incident may have (API and database); raise it to record a mass-casualty
    # event such as the explosion of an ammunition depot.
    max_casualties_per_incident: int = 1000
    # Streamed exports (api/rest/exports.py): how many run at once per key (per client address
    # when anonymous) and in all, over them RATE_LIMITED; seconds a client may take to accept a
    # chunk before it is cut off; where exports are spooled ("" = the system's temporary folder).
    exports_per_client: int = 2
    exports_max: int = 4
    export_send_timeout_s: int = 30
    export_spool_dir: str = ""
    # OGC items pages (/ogc/collections/…/items): `limit` when none is given, and its maximum.
    ogc_default_limit: int = 1000
    ogc_max_limit: int = 10_000
    # Hostile clients (issue 11): what one request may cost the process.
    list_bounds: tuple[tuple[str, int], ...] = ()  # overrides of limits.LIST_BOUNDS
    request_timeout_s: float = 5.0  # 0 = no limit; exports, imports and WebSockets excepted
    query_cache_bytes: int = 16_777_216  # parsed documents, verdicts and compiled plans
    cached_query_max_bytes: int = 16_384  # larger documents are never cached
    response_cache_bytes: int = 67_108_864
    # Largest file a GeoPackage or KML export may write (api/services/file_exports.py).
    export_file_max_bytes: int = 1_073_741_824
    # GraphQL clients (api/graphql/persisted.py, batches.py): only trusted documents run (but for
    # the admin role); Automatic Persisted Queries a process remembers (0 = none); operations
    # one batched request may hold.
    trusted_documents_only: bool = False
    apq_max_documents: int = 1000
    max_batch: int = 10

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from `env`, or when none is given from the process: its environment
        over the .env file, and the private database when DATABASE_URL is unset."""
        process = env is None
        env = process_environment() if env is None else env
        level = env.get("MAR_LOG_LEVEL", "INFO").upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError(
                f"MAR_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}"
            )
        ini = env.get("MAR_ALEMBIC_INI")
        return cls(
            database_url=env.get("DATABASE_URL", "")
            or (private_database_url(env) if process else ""),
            host=env.get("MAR_HOST", "127.0.0.1") or "127.0.0.1",
            port=_int(env, "MAR_PORT", 8000, 1, 65535),
            log_level=level,
            log_json=_bool(env, "MAR_LOG_JSON", True),
            anonymous_access=_bool(env, "MAR_ANONYMOUS_ACCESS", True),
            graphiql=_bool(env, "MAR_GRAPHIQL", True),
            response_cache=_bool(env, "MAR_RESPONSE_CACHE", True),
            compiled_reads=_bool(env, "MAR_COMPILED_READS", True),
            introspection=_bool(env, "MAR_INTROSPECTION", True),
            pool_min_size=_int(env, "MAR_POOL_MIN_SIZE", 0, 0, 1000),
            pool_max_size=_int(env, "MAR_POOL_MAX_SIZE", 10, 1, 1000),
            pool_acquire_timeout_s=_int(env, "MAR_POOL_ACQUIRE_TIMEOUT", 3, 1, 600),
            max_page_size=_int(env, "MAR_MAX_PAGE_SIZE", 500, 1, 10_000),
            max_depth=_int(env, "MAR_MAX_DEPTH", 10, 1, 100),
            max_aliases=_int(env, "MAR_MAX_ALIASES", 15, 0, 10_000),
            max_tokens=_int(env, "MAR_MAX_TOKENS", 2000, 10, 1_000_000),
            max_cost=_int(env, "MAR_MAX_COST", 120_000, 1, 100_000_000),
            suggestions=_bool(env, "MAR_SUGGESTIONS", True),
            rate_limit_per_s=_int(env, "MAR_RATE_LIMIT", 20, 0, 1_000_000),
            rate_limit_burst=_int(env, "MAR_RATE_BURST", 100, 1, 1_000_000),
            statement_timeout_ms=_int(env, "MAR_STATEMENT_TIMEOUT_MS", 5000, 0, 3_600_000),
            max_body_bytes=_int(env, "MAR_MAX_BODY_BYTES", 1_048_576, 1024, 1_073_741_824),
            import_max_bytes=_int(env, "MAR_IMPORT_MAX_BYTES", 52_428_800, 1024, 10_737_418_240),
            cors_origins=_origins(env, "MAR_CORS_ORIGINS"),
            alembic_ini=Path(ini) if ini else _default_alembic_ini(),
            ws_max_per_key=_int(env, "MAR_WS_MAX_PER_KEY", 50, 1, 1_000_000),
            ws_max_per_address=_int(env, "MAR_WS_MAX_PER_ADDRESS", 10, 1, 1_000_000),
            ws_max_operations=_int(env, "MAR_WS_MAX_OPERATIONS", 20, 1, 10_000),
            public_url=_public_url(env, "MAR_PUBLIC_URL"),
            allowed_hosts=_allowed_hosts(
                env, "MAR_ALLOWED_HOSTS", _public_url(env, "MAR_PUBLIC_URL")
            ),
            trusted_proxies=_networks(env, "MAR_TRUSTED_PROXIES"),
            auth_failures_per_minute=_int(env, "MAR_AUTH_FAILURES_PER_MINUTE", 20, 0, 1_000_000),
            max_casualties_per_incident=_int(
                env, "MAR_MAX_CASUALTIES_PER_INCIDENT", 1000, 1, 1_000_000
            ),
            exports_per_client=_int(env, "MAR_EXPORTS_PER_CLIENT", 2, 1, 10_000),
            exports_max=_int(env, "MAR_EXPORTS_MAX", 4, 1, 10_000),
            export_send_timeout_s=_int(env, "MAR_EXPORT_SEND_TIMEOUT", 30, 1, 3600),
            export_spool_dir=_directory(env, "MAR_EXPORT_SPOOL_DIR"),
            **_ogc_limits(env),
            list_bounds=_bounds(env, "MAR_LIST_BOUNDS"),
            request_timeout_s=_seconds(env, "MAR_REQUEST_TIMEOUT", 5.0, 0, 3600),
            query_cache_bytes=_int(env, "MAR_QUERY_CACHE_BYTES", 16_777_216, 0, 1 << 34),
            cached_query_max_bytes=_int(env, "MAR_CACHED_QUERY_MAX_BYTES", 16_384, 0, 1 << 24),
            response_cache_bytes=_int(env, "MAR_RESPONSE_CACHE_BYTES", 67_108_864, 0, 1 << 36),
            export_file_max_bytes=_int(
                env, "MAR_EXPORT_FILE_MAX_BYTES", 1_073_741_824, 1024, 1_099_511_627_776
            ),
            trusted_documents_only=_bool(env, "MAR_TRUSTED_DOCUMENTS_ONLY", False),
            apq_max_documents=_int(env, "MAR_APQ_MAX_DOCUMENTS", 1000, 0, 1_000_000),
            max_batch=_int(env, "MAR_MAX_BATCH", 10, 1, 1000),
        )

    def require_database_url(self) -> str:
        """Return DATABASE_URL or raise SettingsError saying how to set it."""
        if not self.database_url:
            raise SettingsError(
                "DATABASE_URL is not set and no private database runs (`make run` or "
                "`scripts/devdb start` starts one under .data/); or set DATABASE_URL to "
                "postgresql://user:password@host:port/database"
            )
        return self.database_url


# --- The .env file and the private database (scripts/devdb) ------------------------------------

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a .env file sets: `NAME=value` lines (`export` allowed, one level of single
    or double quotes removed); blank lines and `#` comments skipped; any other line refused."""
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if match is None:
            raise SettingsError(f"{path}:{number}: expected NAME=value, not {line.strip()!r}")
        name, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        elif " #" in value:  # a comment after an unquoted value
            value = value.split(" #", 1)[0].rstrip()
        values[name] = value
    return values


def env_file_values(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of the .env file (MAR_ENV_FILE; default `.env` in the working directory,
    empty: none) that `env` does not set: the environment wins over the file."""
    name = env.get("MAR_ENV_FILE", ".env")
    path = Path(name) if name else None
    if path is None or not path.is_file():
        return {}
    return {k: v for k, v in read_env_file(path).items() if k not in env}


def process_environment() -> dict[str, str]:
    """The process's environment over its .env file."""
    return {**env_file_values(os.environ), **os.environ}


def private_database_url(env: Mapping[str, str]) -> str:
    """The URL of scripts/devdb's cluster (under MAR_DEVDB_DIR, default .data/ in the checkout)
    when it runs, read from its postmaster.pid (its port); "" when it does not run."""
    folder = env.get("MAR_DEVDB_DIR") or str(Path(__file__).resolve().parent.parent / ".data")
    try:
        lines = (Path(folder) / "pg" / "data" / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
    except (OSError, ValueError, IndexError):
        return ""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return ""  # a stale file: the server is gone
    except PermissionError:
        pass  # it runs as another user (postgres, when devdb was started as root)
    return f"postgresql://mar:mar@127.0.0.1:{port}/mar"


def shell_exports() -> str:
    """`export NAME='value'` lines for the .env file's variables the environment does not set,
    for scripts/run-demo to see the settings `mar` sees."""
    import shlex

    return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env_file_values(os.environ).items())


if __name__ == "__main__":
    import sys

    try:
        sys.stdout.write(shell_exports())
    except SettingsError as exc:
        sys.exit(f"mar: {exc}")
