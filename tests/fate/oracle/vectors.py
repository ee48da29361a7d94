"""Vectors for the oracle: values of every FATE type, encoded by this library, and what
``@aeternity/aepp-calldata`` made of them.

``python -m tests.fate.oracle.vectors`` (node and ``npm ci`` in this folder needed) writes
``vectors.json``; the tests check the committed file without node, and run the oracle live
when node is there.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

from sansio_channels import encoding
from sansio_channels.fate import types as t
from sansio_channels.fate.jsonform import to_json
from sansio_channels.fate.values import (
    Bits,
    FrozenList,
    Identifier,
    ObjectKind,
    Value,
    Variant,
    decode_value,
    encode_value,
)

HERE = Path(__file__).parent
VECTORS = HERE / "vectors.json"
ORACLE = HERE / "oracle.mjs"

_IDS = {
    t.ADDRESS: (ObjectKind.ADDRESS, "account_pubkey"),
    t.CONTRACT: (ObjectKind.CONTRACT, "contract_pubkey"),
    t.ORACLE: (ObjectKind.ORACLE, "oracle_pubkey"),
    t.ORACLE_QUERY: (ObjectKind.ORACLE_QUERY, "oracle_query_id"),
    t.CHANNEL: (ObjectKind.CHANNEL, "channel"),
}
_LEAVES = [t.INTEGER, t.BOOLEAN, t.STRING, t.BITS, t.BytesType(None), t.BytesType(32), *_IDS]
_KEYS = [
    t.INTEGER,
    t.STRING,
    t.BytesType(4),
    t.ADDRESS,
    t.BOOLEAN,
    t.BITS,
    t.TupleType((t.INTEGER, t.STRING)),
    t.ListType(t.INTEGER),
    t.VariantType((t.TupleType(()), t.TupleType((t.INTEGER,))), ("None", "Some")),
]


def js_type(ty: t.FateType) -> dict[str, Any]:
    """The type object aepp-calldata takes."""
    if ty in _IDS:
        return {"name": _IDS[ty][1]}
    if isinstance(ty, t.SimpleType):
        return {"name": str(ty)}
    if isinstance(ty, t.BytesType):
        return {"name": "bytes"} if ty.size is None else {"name": "bytes", "size": ty.size}
    if isinstance(ty, t.ListType):
        return {"name": "list", "valuesType": js_type(ty.element)}
    if isinstance(ty, t.TupleType):
        elements = [js_type(e) for e in ty.elements]
        if ty.fields:
            return {"name": "record", "keys": list(ty.fields), "valueTypes": elements}
        return {"name": "tuple", "valueTypes": elements}
    if isinstance(ty, t.MapType):
        return {"name": "map", "keyType": js_type(ty.key), "valueType": js_type(ty.value)}
    if isinstance(ty, t.VariantType):
        names = ty.names or tuple(str(i) for i in range(len(ty.constructors)))
        return {
            "name": "variant",
            "variants": [
                {n: [js_type(e) for e in c.elements]}
                for n, c in zip(names, ty.constructors, strict=True)
            ],
        }
    raise AssertionError(ty)


def from_js_type(js: dict[str, Any]) -> t.FateType:
    by_name = {name: ty for ty, (_, name) in _IDS.items()}
    name = js["name"]
    if name in by_name:
        return by_name[name]
    simple = {str(s): s for s in (t.INTEGER, t.BOOLEAN, t.STRING, t.BITS, t.CONTRACT_BYTEARRAY)}
    if name in simple:
        return simple[name]
    if name == "bytes":
        return t.BytesType(js.get("size"))
    if name == "list":
        return t.ListType(from_js_type(js["valuesType"]))
    if name in ("tuple", "record"):
        elements = tuple(from_js_type(e) for e in js["valueTypes"])
        return t.TupleType(elements, tuple(js["keys"]) if name == "record" else None)
    if name == "map":
        return t.MapType(from_js_type(js["keyType"]), from_js_type(js["valueType"]))
    if name == "variant":
        names = tuple(next(iter(v)) for v in js["variants"])
        constructors = tuple(
            t.TupleType(tuple(from_js_type(e) for e in next(iter(v.values()))))
            for v in js["variants"]
        )
        return t.VariantType(constructors, names)
    raise AssertionError(js)


def random_type(rng: random.Random, depth: int = 0) -> t.FateType:
    if depth >= 2 or rng.random() < 0.45:
        return rng.choice(_LEAVES)
    kind = rng.randrange(5)

    def inner() -> t.FateType:
        return random_type(rng, depth + 1)

    if kind == 0:
        return t.ListType(inner())
    if kind == 1:
        elements = tuple(inner() for _ in range(rng.randint(2, 4)))
        fields = tuple(f"f{i}" for i in range(len(elements))) if rng.random() < 0.5 else None
        return t.TupleType(elements, fields)
    if kind == 2:
        return t.MapType(rng.choice(_KEYS), inner())
    if kind == 3:
        count = rng.randint(1, 4)
        constructors = tuple(
            t.TupleType(tuple(inner() for _ in range(rng.randint(0, 2)))) for _ in range(count)
        )
        return t.VariantType(constructors, tuple(f"C{i}" for i in range(count)))
    return t.VariantType((t.TupleType(()), t.TupleType((inner(),))), ("None", "Some"))


def random_value(rng: random.Random, ty: t.FateType) -> Value:
    if ty == t.INTEGER:
        return rng.choice(
            [0, 1, -1, 63, -63, 64, -64, rng.randint(-(2**256), 2**256), rng.randint(-1000, 1000)]
        )
    if ty == t.BOOLEAN:
        return rng.random() < 0.5
    if ty == t.STRING:
        return rng.choice(
            [
                "",
                "rock",
                "x" * rng.randint(60, 70),
                "päper ✂",
                "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 80))),
            ]
        )
    if ty == t.BITS:
        return Bits(rng.choice([0, 5, -1, rng.randint(0, 2**80), -rng.randint(1, 2**80)]))
    if isinstance(ty, t.BytesType):
        size = rng.randint(0, 70) if ty.size is None else ty.size
        return bytes(rng.getrandbits(8) for _ in range(size))
    if ty in _IDS:
        return Identifier(_IDS[ty][0], bytes(rng.getrandbits(8) for _ in range(32)))
    if isinstance(ty, t.ListType):
        return [random_value(rng, ty.element) for _ in range(rng.choice([0, 1, 3, 17]))]
    if isinstance(ty, t.TupleType):
        return tuple(random_value(rng, e) for e in ty.elements)
    if isinstance(ty, t.MapType):
        result: dict[Value, Value] = {}
        for _ in range(rng.randint(0, 4)):
            key = random_value(rng, ty.key)
            result[FrozenList(key) if isinstance(key, list) else key] = random_value(rng, ty.value)
        return result
    if isinstance(ty, t.VariantType):
        tag = rng.randrange(len(ty.constructors))
        return Variant(
            ty.arities, tag, tuple(random_value(rng, e) for e in ty.constructors[tag].elements)
        )
    raise AssertionError(ty)


def make_inputs(seed: int, count: int) -> list[dict[str, Any]]:
    """``count`` vectors: every leaf type first, then random nested ones."""
    rng = random.Random(seed)
    types = list(_LEAVES) + [random_type(rng) for _ in range(count - len(_LEAVES))]
    vectors = []
    for ty in types:
        data = encode_value(random_value(rng, ty))
        vectors.append(
            {
                "type": js_type(ty),
                "text": str(ty),
                "cb": encoding.encode("cb", data),
                "json": to_json(decode_value(data), ty),  # maps in the node's key order
            }
        )
    return vectors


def run_oracle(vectors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed")
    request = [{"type": v["type"], "cb": v["cb"]} for v in vectors]
    done = subprocess.run(
        [node, str(ORACLE)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
        cwd=HERE,
    )
    results: list[dict[str, Any]] = json.loads(done.stdout)
    return results


def from_plain(data: Any) -> Any:
    """aepp-calldata's decoded value (tagged by oracle.mjs) in this library's JSON form."""
    if isinstance(data, list):
        return [from_plain(v) for v in data]
    if isinstance(data, dict):
        if "$int" in data:
            return int(data["$int"])
        if "$bytes" in data:
            return "0x" + data["$bytes"]
        if "$map" in data:
            return [[from_plain(k), from_plain(v)] for k, v in data["$map"]]
        return {k: from_plain(v) for k, v in data["$obj"].items()}
    return data


def main() -> None:
    vectors = make_inputs(seed=17, count=400)
    for vector, result in zip(vectors, run_oracle(vectors), strict=True):
        vector["oracle"] = result
    VECTORS.write_text(json.dumps(vectors, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(vectors)} vectors written to {VECTORS}")


if __name__ == "__main__":
    main()
