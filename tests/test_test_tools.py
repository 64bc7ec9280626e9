"""scripts/test-tools: on a machine without GDAL's tools or Node.js, the tests say exactly what to
install (or, as root with apt-get, install it) before any test runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def path_with(tmp_path: Path, *programs: str) -> str:
    """A PATH holding only `programs` (no apt-get: nothing can be installed from it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for program in programs:
        found = shutil.which(program)
        assert found, program
        (bin_dir / program).symlink_to(found)
    return str(bin_dir)


def run(script: str, path: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": path}
    return subprocess.run(
        [str(ROOT / "scripts" / script), "true"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_gdal_is_named_with_the_package_to_install(tmp_path: Path) -> None:
    path = path_with(tmp_path, "bash", "id", "dirname")
    for script in ("test-tools", "with-test-db"):
        done = run(script, path)
        assert done.returncode == 1, (script, done.stderr)
        assert "Install them: sudo apt-get install gdal-bin" in done.stderr, script


def test_present_tools_pass_silently(tmp_path: Path) -> None:
    # The client libraries are installed already (scripts/test-tools ran before this test).
    tools = ("bash", "id", "dirname", "cmp", "cp", "ogrinfo", "ogr2ogr", "node", "npm")
    done = run("test-tools", path_with(tmp_path, *tools))
    assert (done.returncode, done.stderr) == (0, "")


def test_missing_node_is_named_with_the_packages_to_install(tmp_path: Path) -> None:
    done = run("test-tools", path_with(tmp_path, "bash", "id", "dirname", "ogrinfo", "ogr2ogr"))
    assert done.returncode == 1, done.stderr
    assert "Install them: sudo apt-get install nodejs npm" in done.stderr
