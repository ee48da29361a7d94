"""What a peer's contract call does, decoded for the sign request; and the contract CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sansio_channels import encoding
from sansio_channels.cli import main
from sansio_channels.encoding import Id
from sansio_channels.fate.calldata import Interface
from sansio_channels.fate.describe import (
    created_contract_id,
    decode_contract_call_result,
    describe_update,
)
from sansio_channels.txs import OffChainCallContract, OffChainNewContract

from ..recordings import TRANSCRIPTS

RECORDING = (TRANSCRIPTS / "contracts" / "sc_ws_basic_contracts.md").read_text()
CODE = re.findall(r'"code": "(cb_[^"]*)"', RECORDING)[0]
CONTRACT = "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq"
PEER = "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha"


def test_a_peers_call_is_described() -> None:
    call_data = Interface.from_code(CODE).encode_call("main", [42])
    update = OffChainCallContract(
        caller_id=Id.account(PEER),
        contract_id=Id.from_api(CONTRACT),
        abi_version=3,
        amount=7,
        gas=1000,
        gas_price=10**9,
        call_data=call_data,
        call_stack=(),
    )
    described = describe_update(update, {CONTRACT: encoding.decode(CODE, "cb")})
    assert described is not None
    assert described.call.function == "main"
    assert described.call.arguments == (42,)
    assert str(described) == f"main(42) with 7 aettos on {CONTRACT}"
    # A contract whose code is not known, or no contract update: nothing to say.
    assert describe_update(update, {}) is None
    assert describe_update(object(), {}) is None


def test_a_create_is_described_as_its_init_call() -> None:
    init = re.findall(r'"call_data": "(cb_[^"]*)"', RECORDING)[0]
    update = OffChainNewContract(
        owner_id=Id.account(PEER),
        ct_version=7 << 16 | 3,
        code=encoding.decode(CODE, "cb"),
        deposit=10,
        call_data=encoding.decode(init, "cb"),
    )
    described = describe_update(update, {})
    assert described is not None
    assert str(described) == "init() with 10 aettos"


def test_a_recorded_result_is_decoded() -> None:
    result = {"return_type": "ok", "return_value": "cb_VNLOFXc="}
    assert decode_contract_call_result(result, Interface.from_code(CODE), "main") == 42


def test_cli_info_decode_and_encode_round_trip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contract", "info", CODE]) == 0
    info = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in info["functions"]] == ["init", "main"]
    assert info["functions"][1]["id"] == "0xb8177eec"
    assert main(["contract", "encode-call", CODE, "main", "[42]"]) == 0
    call_data = capsys.readouterr().out.strip()
    assert main(["contract", "decode-call", CODE, call_data]) == 0
    assert json.loads(capsys.readouterr().out) == {"function": "main", "arguments": [42]}
    assert main(["contract", "decode-result", CODE, "main", "cb_VNLOFXc="]) == 0
    assert capsys.readouterr().out.strip() == "42"


@pytest.mark.parametrize(
    "argv",
    [
        ["contract", "encode-call", CODE, "main", '["x"]'],
        ["contract", "encode-call", CODE, "main", "not json"],
        ["contract", "encode-call", CODE, "nope", "[]"],
        ["contract", "decode-call", CODE, "cb_KxFLBQ6pKwIEOyoYQQ=="],
        ["contract", "info", "cb_AZwSz9w="],
        ["contract", "--aci", "/nonexistent.json", "info", CODE],
    ],
)
def test_cli_bad_input_is_one_error_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert err.count("\n") == 1


def test_cli_with_an_aci_names_the_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aci = tmp_path / "aci.json"
    aci.write_text(
        json.dumps(
            [
                {
                    "contract": {
                        "name": "Main",
                        "functions": [
                            {
                                "name": "main",
                                "arguments": [{"name": "x", "type": "int"}],
                                "returns": "int",
                                "stateful": True,
                            }
                        ],
                    }
                }
            ]
        )
    )
    assert main(["contract", "--aci", str(aci), "info", CODE]) == 0
    (_, main_function) = json.loads(capsys.readouterr().out)["functions"]
    assert main_function["arguments"] == [{"name": "x", "type": "int"}]
    assert main_function["attributes"] == ["payable", "stateful"]
    revert = encoding.encode("cb", b"\x21" + b"too late")  # a FATE string of 8 bytes
    assert main(["contract", "decode-result", CODE, "main", revert, "--return-type", "revert"]) == 0
    assert json.loads(capsys.readouterr().out) == "too late"
    aci.write_text("{not json")
    assert main(["contract", "--aci", str(aci), "info", CODE]) == 2
    assert capsys.readouterr().err.startswith("error: --aci")
    assert main(["contract", "encode-call", CODE, "main", '{"x": 1}']) == 2
    assert "a JSON array" in capsys.readouterr().err


def test_the_id_of_a_created_contract_is_the_nodes() -> None:
    # In the recording the owner's create of round 2 made CONTRACT.
    create = OffChainNewContract(
        owner_id=Id.account(PEER), ct_version=7 << 16 | 3, code=b"", deposit=10, call_data=b""
    )
    assert created_contract_id(create, 2) == CONTRACT
    assert created_contract_id(create, 3) != CONTRACT
