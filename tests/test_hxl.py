"""The CSV exports as partners read them with libhxl (the HXL standard's own library): admin
p-codes under `#adm1+code` / `#adm2+code`, by the level each p-code names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import hxl
from hxl.input import InputOptions

from db.pool import Connection

SQUARE = "ST_Multi(ST_MakeEnvelope(30, 10, 30.01, 10.01, 4326))"
RECORDS = f"""
INSERT INTO zones (code, name, hazard_type, contamination, geometry, priority,
                   admin1, admin2, admin_pcode)
VALUES ('HXL-Z-1', 'District zone', 'SHA', ARRAY['UXO'], {SQUARE}, 1, 'North', 'Hills', 'ZZ0102'),
       ('HXL-Z-2', 'Province zone', 'SHA', ARRAY['UXO'], {SQUARE}, 1, 'South', NULL, 'ZZ02'),
       ('HXL-Z-3', 'Unplaced zone', 'SHA', ARRAY['UXO'], {SQUARE}, 1, NULL, NULL, NULL);
INSERT INTO incidents (code, incident_type, occurred_on, location, admin1, admin2, admin_pcode)
VALUES ('HXL-I-1', 'MINE_ACCIDENT', DATE '2024-03-01', ST_SetSRID(ST_MakePoint(30, 10), 4326),
        'North', 'Hills', 'ZZ0102'),
       ('HXL-I-2', 'MINE_ACCIDENT', DATE '2024-03-02', ST_SetSRID(ST_MakePoint(30, 10), 4326),
        'South', NULL, 'ZZ02');
INSERT INTO casualties (incident_id, outcome, category, sex, age)
SELECT id, 'INJURED', 'CIVILIAN', 'MALE', 40 FROM incidents WHERE code LIKE 'HXL-I-%';
"""


async def read_hxl(client: httpx.AsyncClient, path: str, tmp_path: Path, key: str) -> Any:
    """Download an export and open it with libhxl, as a partner opens the file."""
    response = await client.get(path, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.text
    target = tmp_path / path.rsplit("/", 1)[-1]
    target.write_bytes(response.content)
    with hxl.data(str(target), InputOptions(allow_local=True)) as source:
        # Read it whole while the file is open; keep it as an in-memory HXL source.
        headers = [column.header for column in source.columns]
        tags = [column.display_tag for column in source.columns]
        values = [list(row.values) for row in source]
    return hxl.data([headers, tags, *values]).cache()


def codes_by(source: Any, key_tag: str) -> dict[str, tuple[str, str]]:
    return {
        row.get(key_tag): (row.get("#adm1+code") or "", row.get("#adm2+code") or "")
        for row in source
    }


async def test_pcodes_are_tagged_by_their_admin_level(
    conn: Connection, client: httpx.AsyncClient, editor_key: str, tmp_path: Path
) -> None:
    await conn.execute(RECORDS)
    zones = await read_hxl(client, "/exports/zones.csv", tmp_path, editor_key)
    tags = [column.display_tag for column in zones.columns]
    assert "#adm1+code" in tags and "#adm2+code" in tags and "#adm1+name" in tags
    assert codes_by(zones, "#loc+id") == {
        "HXL-Z-1": ("", "ZZ0102"),
        "HXL-Z-2": ("ZZ02", ""),
        "HXL-Z-3": ("", ""),
    }
    # A partner's filter on the tag finds the district's records by its p-code.
    hills = zones.with_rows("#adm2+code=ZZ0102")
    assert [row.get("#loc+name") for row in hills] == ["District zone"]

    incidents = await read_hxl(client, "/exports/incidents.csv", tmp_path, editor_key)
    assert codes_by(incidents, "#event+id") == {
        "HXL-I-1": ("", "ZZ0102"),
        "HXL-I-2": ("ZZ02", ""),
    }
    casualties = await read_hxl(client, "/exports/casualties.csv", tmp_path, editor_key)
    assert sorted(codes_by(casualties, "#adm1+name").items()) == [
        ("North", ("", "ZZ0102")),
        ("South", ("ZZ02", "")),
    ]
