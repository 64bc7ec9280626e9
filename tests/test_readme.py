"""The README's shell commands work as written: each ```sh block runs, in order, against a real
server and database, in a scratch folder holding the checkout's `./mar`.

A block is skipped only when the line before it says `<!-- readme-test: skip: why -->`; the
skipped blocks are listed here, so that the README cannot drift into commands nobody runs.
The one liberty taken: the README's http://127.0.0.1:8000 is the test server's address.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import serving

pytestmark = pytest.mark.commits

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme-test: skip: (.+?) -->")
# The first line of every block the README marks as not runnable, and nothing else.
SKIPPED = {"make run", "./mar serve"}


def shell_blocks() -> list[tuple[int, str, str | None]]:
    """Each ```sh block: its line number, its text, and why it is skipped (None: it runs)."""
    blocks: list[tuple[int, str, str | None]] = []
    lines = README.read_text(encoding="utf-8").splitlines()
    number = 0
    while number < len(lines):
        if lines[number].strip() == "```sh":
            end = lines.index("```", number + 1)
            marker = SKIP.search(lines[number - 1]) if number else None
            text = "\n".join(lines[number + 1 : end]) + "\n"
            blocks.append((number + 1, text, marker.group(1) if marker else None))
            number = end
        number += 1
    return blocks


def test_only_the_listed_blocks_are_skipped() -> None:
    blocks = shell_blocks()
    skipped = {text.split()[0] + " " + text.split()[1] for _, text, why in blocks if why}
    assert skipped == SKIPPED
    assert sum(1 for *_, why in blocks if why is None) >= 3


async def test_every_shell_block_of_the_readme_runs(fresh_db_url: str, tmp_path: Path) -> None:
    (tmp_path / "mar").symlink_to(ROOT / "mar")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAR_")}
    env.update(DATABASE_URL=fresh_db_url, MAR_ENV_FILE="")
    async with serving(fresh_db_url) as base_url:
        outputs = []
        for line, text, why in shell_blocks():
            if why:
                continue
            script = text.replace("http://127.0.0.1:8000", base_url)
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", script],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"README.md:{line}\n{script}\n{done.stdout}{done.stderr}"
            outputs.append(done.stdout + done.stderr)
    everything = "\n".join(outputs)
    assert '"totalCount"' in everything  # the first query answered
    assert "has a new secret" in everything and "revoked at" in everything
    assert "demo data written" in everything
    assert re.search(r"0 zones were created, 0 were updated, [1-9][0-9]* unchanged", everything)
    assert (tmp_path / "zones.csv").stat().st_size > 0
