"""Run a script of real npm GraphQL clients (tests/clients/*.mjs) and read what it prints.

The packages are pinned with their integrity hashes in package-lock.json; `npm ci` installs
them from the npm registry into tests/clients/node_modules (the CI's set-up runs it; a test run
without them runs it once)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
NPM_CI = ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"]


def installed() -> None:
    """Install the pinned client packages unless they are there already."""
    if (HERE / "node_modules" / ".package-lock.json").exists():
        return
    if shutil.which("npm") is None:
        raise RuntimeError("npm is needed for the client tests: `cd tests/clients && npm ci`")
    subprocess.run(NPM_CI, cwd=HERE, check=True, capture_output=True, timeout=300)


class NodeClient:
    """A running client script; each line it prints is one JSON value."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def line(self, within: float = 10.0) -> Any:
        """The next JSON line the script prints (fails after `within` seconds)."""
        assert self.process.stdout is not None
        raw = await asyncio.wait_for(self.process.stdout.readline(), within)
        if not raw:
            assert self.process.stderr is not None
            error = (await self.process.stderr.read()).decode()
            raise AssertionError(f"the client script ended: {error}")
        return json.loads(raw)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()


async def start(script: str, *args: str) -> NodeClient:
    """Start `node tests/clients/<script> args…`."""
    installed()
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / script),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return NodeClient(process)


async def run(script: str, *args: str, within: float = 30.0) -> list[Any]:
    """Run a script to its end and return every JSON line it printed."""
    client = await start(script, *args)
    try:
        out, err = await asyncio.wait_for(client.process.communicate(), within)
    finally:
        await client.stop()
    if client.process.returncode != 0:
        raise AssertionError(f"{script} failed: {err.decode()}")
    return [json.loads(line) for line in out.decode().splitlines() if line.strip()]
