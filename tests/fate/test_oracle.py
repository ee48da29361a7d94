"""The oracle: ``@aeternity/aepp-calldata``, the FATE library of the JavaScript SDK.

Each vector is a value of some type encoded by this library; the oracle decoded it under the
type and encoded what it got. The two agree on the bytes and on the decoded value, but for
three differences of the oracle from the node, asserted here as such:

- it orders string map keys by their length in UTF-16 units, where the node
  (``aeb_fate_data:compare_bytes``) takes their length in bytes: with keys of non-ASCII text
  its encoding differs, and the node (and this library) refuse its order;
- it orders negative bits map keys the other way round (the node: ``BitsA < BitsB`` when
  both are negative), with the same result;
- it decodes an option to its bare value, so ``Some(None)`` comes back as ``None``.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from typing import Any

import pytest

from sansio_channels import encoding
from sansio_channels.errors import DecodingError
from sansio_channels.fate.jsonform import to_json
from sansio_channels.fate.values import decode_value, encode_value

from .oracle.vectors import HERE, VECTORS, from_js_type, from_plain, make_inputs, run_oracle


def _kind(text: str) -> str:
    return text.split("(")[0]


def check(vectors: list[dict[str, Any]]) -> Counter[str]:
    """Check each vector; the count of agreements by outer type, and of the known differences."""
    seen: Counter[str] = Counter()
    for vector in vectors:
        ty = from_js_type(vector["type"])
        data = encoding.decode(vector["cb"], "cb")
        value = decode_value(data)
        assert encode_value(value) == data
        assert to_json(value, ty) == vector["json"]
        oracle = vector["oracle"]
        assert "error" not in oracle, (vector["text"], oracle)
        if oracle["reencoded"] == vector["cb"]:
            assert from_plain(oracle.get("decoded")) == _as_oracle_shows(vector["json"]), vector[
                "text"
            ]
            seen[_kind(vector["text"])] += 1
            continue
        theirs = encoding.decode(oracle["reencoded"], "cb")
        if "map(string" in vector["text"] or "map(bits" in vector["text"]:
            with pytest.raises(DecodingError, match="out of order"):
                decode_value(theirs)
            key = "bits" if "map(bits" in vector["text"] else "string"
            seen[f"differs: {key} keys in another order"] += 1
        else:
            assert "None" in json.dumps(vector["type"]), vector["text"]
            seen["differs: Some(None) decoded as None"] += 1
    return seen


def _as_oracle_shows(value: Any) -> Any:
    """Our JSON form with the oracle's conventions: options as their value or None."""
    if isinstance(value, list):
        return [_as_oracle_shows(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"None"} and value["None"] == []:
            return None
        if set(value) == {"Some"} and len(value["Some"]) == 1:
            return _as_oracle_shows(value["Some"][0])
        # JSON.stringify leaves out an object's undefined (None) fields.
        shown = {k: _as_oracle_shows(v) for k, v in value.items()}
        return {k: v for k, v in shown.items() if v is not None}
    return value


def test_the_committed_vectors() -> None:
    vectors = json.loads(VECTORS.read_text())
    seen = check(vectors)
    assert sum(seen.values()) == len(vectors) == 400
    for kind in (
        "int",
        "bool",
        "string",
        "bits",
        "bytes",
        "address",
        "contract",
        "oracle",
        "oracle_query",
        "channel",
        "list",
        "tuple",
        "map",
        "variant",
    ):
        assert seen[kind] > 0, kind


@pytest.mark.skipif(
    shutil.which("node") is None
    or not (HERE / "node_modules" / "@aeternity" / "aepp-calldata").is_dir(),
    reason="needs node and `npm ci` in tests/fate/oracle (@aeternity/aepp-calldata)",
)
def test_the_oracle_live() -> None:
    vectors = make_inputs(seed=2026, count=300)
    for vector, result in zip(vectors, run_oracle(vectors), strict=True):
        vector["oracle"] = result
    seen = check(vectors)
    assert sum(seen.values()) == 300
