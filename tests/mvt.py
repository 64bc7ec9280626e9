"""A small reader of Mapbox vector tiles (protobuf, spec 2.1) for the tests: layers, features,
their ids, geometry types and properties; geometry commands are counted, not drawn."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

POINT, LINESTRING, POLYGON = 1, 2, 3


@dataclass
class Feature:
    """One feature of a layer."""

    id: int | None
    type: int
    properties: dict[str, Any]
    geometry: list[int] = field(default_factory=list)  # the raw command integers


@dataclass
class Layer:
    """One layer of a tile."""

    name: str
    extent: int
    features: list[Feature]


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def _fields(data: bytes) -> list[tuple[int, int, Any]]:
    """(field number, wire type, value) of each field of a message, in order."""
    pos, out = 0, []
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        value: Any
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos : pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"wire type {wire} is not in MVT")
        out.append((number, wire, value))
    return out


def _packed(data: bytes) -> list[int]:
    pos, out = 0, []
    while pos < len(data):
        value, pos = _varint(data, pos)
        out.append(value)
    return out


def _value(data: bytes) -> Any:
    for number, _, raw in _fields(data):
        if number == 1:
            return raw.decode()
        if number == 2:
            return struct.unpack("<f", raw)[0]
        if number == 3:
            return struct.unpack("<d", raw)[0]
        if number in (4, 5):
            return raw if number == 5 or raw < 2**63 else raw - 2**64
        if number == 6:
            return (raw >> 1) ^ -(raw & 1)
        if number == 7:
            return bool(raw)
    return None


def decode(tile: bytes) -> dict[str, Layer]:
    """The layers of an (uncompressed) tile by name."""
    layers: dict[str, Layer] = {}
    for number, _, raw in _fields(tile):
        if number != 3:
            continue
        name, extent = "", 4096
        keys: list[str] = []
        values: list[Any] = []
        features_raw: list[bytes] = []
        for n, _, v in _fields(raw):
            if n == 1:
                name = v.decode()
            elif n == 2:
                features_raw.append(v)
            elif n == 3:
                keys.append(v.decode())
            elif n == 4:
                values.append(_value(v))
            elif n == 5:
                extent = v
        features = []
        for data in features_raw:
            feature = Feature(id=None, type=0, properties={})
            for n, _, v in _fields(data):
                if n == 1:
                    feature.id = v
                elif n == 2:
                    tags = _packed(v)
                    for k, i in zip(tags[::2], tags[1::2], strict=True):
                        feature.properties[keys[k]] = values[i]
                elif n == 3:
                    feature.type = v
                elif n == 4:
                    feature.geometry = _packed(v)
            features.append(feature)
        layers[name] = Layer(name, extent, features)
    return layers
