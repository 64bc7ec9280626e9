"""The tile pyramid benchmark (bench/tiles.py): which tiles it asks for, and that it runs and
reports against a real server. No timing is asserted: the budget is the benchmark's to state."""

from __future__ import annotations

from bench import load, tiles
from bench.generate import Prepared
from tests.test_bench import tiny

__all__ = ["tiny"]


def test_the_pyramid_covers_the_extent_at_low_zooms_and_samples_records_above() -> None:
    extent = (21.2, 8.1, 26.9, 12.0)
    points = {"zones": [(22.0, 9.0), (26.0, 11.5)], "incidents": [(21.5, 8.5)]}
    pyramid = tiles.pyramid(extent, points)
    assert pyramid == sorted(pyramid, key=lambda t: (t[1], t[0], t[2], t[3]))
    for layer in tiles.LAYERS:
        for z in tiles.FULL_ZOOMS:
            x0, y0 = tiles.tile_of(extent[0], extent[3], z)
            x1, y1 = tiles.tile_of(extent[2], extent[1], z)
            expected = {(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)}
            assert {(t[2], t[3]) for t in pyramid if t[0] == layer and t[1] == z} == expected
    at_14 = {(t[2], t[3]) for t in pyramid if t[0] == "zones" and t[1] == 14}
    assert at_14 == {tiles.tile_of(22.0, 9.0, 14), tiles.tile_of(26.0, 11.5, 14)}
    assert tiles.tile_of(0.0, 0.0, 1) == (1, 1) and tiles.tile_of(-180.0, 85.0511, 3) == (0, 0)


async def test_the_pyramid_renders_and_reports(tiny: Prepared) -> None:
    server = await load.start_server(tiny.url)
    try:
        lines = await tiles.run(server, tiny.url)
    finally:
        await server.stop()
    text = "\n".join(lines)
    assert "### Tiles: a z0–z14 pyramid" in text
    assert "| 0 | 2 |" in text  # one tile per layer at zoom 0
    assert ", 0 failed." in text
    # Every tile of the low zooms holds something: the data is drawn at every zoom.
    for line in lines:
        if line.startswith("| ") and line.split("|")[1].strip() in {str(z) for z in range(7)}:
            assert line.rstrip().endswith("| 0 |"), line
