"""The command line: decode prints JSON and who signed; bad input is one line and status 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sansio_channels.cli import main
from sansio_channels.crypto import inner_tx
from sansio_channels.txs import decode_signed_tx, decode_tx

from .recordings import frames, strings_with_prefix

RESPONDER_SIGN_TX = next(
    text
    for entry, frame in frames("sc_ws_basic_open_close.md")
    if entry.role == "responder" and frame.get("method") == "channels.responder_sign"
    for text in strings_with_prefix(frame, "tx_")
)
INITIATOR = "ak_mLjWgLbapr5CiVD2Q248aS2TQj9itXnoPv5tteXvZaJ8tdD2C"
RESPONDER = "ak_26jAbCjYM16ppbhFG6PCQhv6HkwRAri7QNJfoEtb1R8amLscpt"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_decode_prints_the_nested_tx(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "decode", RESPONDER_SIGN_TX)
    assert (status, err) == (0, "")
    view = json.loads(out)
    assert view["type"] == "signed_tx"
    assert len(view["signatures"]) == 2
    inner = view["transaction"]
    assert inner["type"] == "channel_create_tx"
    assert inner["initiator_amount"] == 70000000000000
    assert "signatures_checked" not in view


def test_decode_checks_signatures_for_a_network(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "decode", RESPONDER_SIGN_TX, "--network-id", "local_iris_testnet")
    assert status == 0
    checked = json.loads(out)["signatures_checked"]
    assert {item["verified_for"] for item in checked} == {INITIATOR, RESPONDER}
    _, out, _ = run(capsys, "decode", RESPONDER_SIGN_TX, "--network-id", "ae_mainnet")
    assert {item["verified_for"] for item in json.loads(out)["signatures_checked"]} == {None}


def test_decode_takes_more_candidate_accounts(capsys: pytest.CaptureFixture[str]) -> None:
    offchain = next(
        text
        for _, frame in frames("sc_ws_basic_open_close.md")
        for text in strings_with_prefix(frame, "tx_")
        if inner_tx(decode_tx(text)).TYPE == "channel_offchain_tx"
        and len(decode_signed_tx(text).signatures) == 2
    )
    argv = ["decode", offchain, "--network-id", "local_iris_testnet"]
    _, out, _ = run(capsys, *argv)
    assert {c["verified_for"] for c in json.loads(out)["signatures_checked"]} == {None}
    _, out, _ = run(capsys, *argv, "--account", INITIATOR, "--account", RESPONDER)
    verified = [c["verified_for"] for c in json.loads(out)["signatures_checked"]]
    assert sorted(verified) == sorted([INITIATOR, RESPONDER])


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["decode", "tx_abc"], "malformed base64"),
        (["decode", "ak_abc"], "too short to hold a checksum"),
        (["decode", "nonsense"], "no prefix"),
        (["decode", RESPONDER_SIGN_TX[:-8] + "AAAAAAAA"], "checksum mismatch"),
        (["decode", RESPONDER_SIGN_TX, "--network-id", "x", "--account", "ak_1"], "ak_1"),
    ],
)
def test_bad_input_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert says in err


def test_module_entry_point() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sansio_channels", "decode", RESPONDER_SIGN_TX],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert json.loads(done.stdout)["transaction"]["type"] == "channel_create_tx"
