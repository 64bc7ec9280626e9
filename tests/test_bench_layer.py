"""bench/layer.py runs: a whole-layer ogr2ogr of the tiny data set with the default rate limit."""

from __future__ import annotations

from bench import generate, layer
from tests.test_bench import tiny

__all__ = ["tiny"]


async def test_the_whole_layer_benchmark_reads_every_zone_and_reports_it(
    tiny: generate.Prepared,
) -> None:
    lines = await layer.run(tiny.url)
    text = "\n".join(lines)
    assert f"all {generate.TINY.zones} zones" in text
    assert "no 429: met" in text, text
    rows = [line for line in lines if line.startswith(("| default (10)", "| 1000"))]
    assert len(rows) == 2 and all(f"| {generate.TINY.zones} |" in row for row in rows), rows
