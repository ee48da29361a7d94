"""The floor under the transfer ratios: the least any client must do per checked transfer.

A transfer checked before it is signed needs, besides the Ed25519 signature and verification
that the ratios divide by: the sign request's tx decoded from its ``tx_`` string (base64 and a
double-SHA-256 checksum) and its RLP; the update compared with what was asked; the balances
moved and their state hash worked out and compared with the tx's; the signed tx encoded into
its ``tx_`` string; and the co-signed state decoded and held to what was signed. Here that
work is written straight-line, with no objects, no events, no check reports, no ledger, for
this one shape of tx only, and using the library's fastest state hash
(``trees.accounts_state_hash``). It decodes less strictly than the library (no canonical-form
checks, no error messages) and checks only a transfer: it is a lower bound, not an
alternative implementation.

``bench/run.py`` reports its ratios as ``floor_own_transfer_ratio`` and
``floor_ack_transfer_ratio``, timed exactly as the library's transfers are (against the same
baseline, on the same node frames). ``python bench/floor.py`` prints them alone.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.signing

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansio_channels.encoding import Id, IdTag
from sansio_channels.trees import accounts_state_hash
from tests.scripted_node import NETWORK, ScriptedNode, opened

Frames = list[tuple[dict[str, Any], dict[str, Any]]]
FramesOf = Callable[[ScriptedNode, int], Frames]  # bench/run.py's node frames, per transfer
Step = Callable[[], None]

_SIGNED_TX_HEAD = b"\x0b\x01"  # RLP of the signed tx's tag 11 and version 1
_OFFCHAIN_HEAD = b"\x39\x02"  # RLP of the off-chain tx's tag 57 and version 2


def _item(buf: bytes, pos: int) -> tuple[int, int]:
    """(start, end) of the payload of the RLP item at ``pos`` (a string's or a list's)."""
    first = buf[pos]
    if first < 0x80:
        return pos, pos + 1
    if first < 0xB8:
        return pos + 1, pos + 1 + first - 0x80
    if first < 0xC0:
        size = first - 0xB7
        start = pos + 1 + size
        return start, start + int.from_bytes(buf[pos + 1 : start], "big")
    if first < 0xF8:
        return pos + 1, pos + 1 + first - 0xC0
    size = first - 0xF7
    start = pos + 1 + size
    return start, start + int.from_bytes(buf[pos + 1 : start], "big")


def _items(buf: bytes, start: int, end: int) -> list[tuple[int, int]]:
    """The payload ranges of the items of the RLP list whose payload is ``buf[start:end]``."""
    found = []
    while start < end:
        item = _item(buf, start)
        found.append(item)
        start = item[1]
    return found


def _prefix(size: int, short: int) -> bytes:
    """The RLP length prefix of a payload of ``size`` bytes (``short``: 0x80 or 0xC0)."""
    if size < 56:
        return bytes([short + size])
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([short + 55 + len(length)]) + length


def _decode_tx_string(text: str) -> bytes:
    if not text.startswith("tx_"):
        raise ValueError("not a tx string")
    data = base64.b64decode(text[3:], validate=True)
    payload = data[:-4]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != data[-4:]:
        raise ValueError("checksum")
    return payload


def _encode_tx_string(payload: bytes) -> str:
    checksum = hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    return "tx_" + base64.b64encode(payload + checksum).decode("ascii")


def _split_signed(text: str) -> tuple[list[bytes], bytes]:
    """(signatures, inner tx bytes) of a ``tx_`` string holding a signed tx."""
    buf = _decode_tx_string(text)
    start, end = _item(buf, 0)
    tag, vsn, sigs, inner = _items(buf, start, end)
    if buf[tag[0] : vsn[1]] != _SIGNED_TX_HEAD:
        raise ValueError("not a signed tx")
    signatures = [buf[a:b] for a, b in _items(buf, *sigs)]
    return signatures, buf[inner[0] : inner[1]]


def _encode_signed(signatures: list[bytes], inner: bytes) -> str:
    sigs = b"".join(b"\xb8\x40" + s for s in sorted(signatures))
    body = _SIGNED_TX_HEAD + _prefix(len(sigs), 0xC0) + sigs + _prefix(len(inner), 0x80) + inner
    return _encode_tx_string(_prefix(len(body), 0xC0) + body)


class _Floor:
    """What the floor keeps of a channel: its id, latest round and balances, and the keys."""

    def __init__(self, node: ScriptedNode) -> None:
        assert node.channel_id is not None
        self.channel_id = Id.from_api(node.channel_id, IdTag.CHANNEL).serialize()
        self.network = NETWORK.encode()
        self.round = node.round
        self.balances = dict(node.balances)
        self.key = nacl.signing.SigningKey(node.ours.secret_bytes()[:32])
        self.peer_key = nacl.signing.VerifyKey(node.peer.public_key)
        self.ours, self.peer = node.ours.address, node.peer.address
        self.keys = {
            node.ours.address: node.ours.public_key,
            node.peer.address: node.peer.public_key,
        }
        self.next_id = 0
        self.asked = 0  # the amount of our transfer under way
        self.signed = b""  # the inner tx we signed last,
        self.after: dict[bytes, int] = {}  # the balances it holds,
        self.signatures: set[bytes] = set()  # and the signatures over it known valid

    def request(self, amount: int) -> dict[str, Any]:
        """Our transfer's request frame."""
        self.next_id += 1
        self.asked = amount
        params = {"from": self.ours, "to": self.peer, "amount": amount}
        return {
            "jsonrpc": "2.0",
            "id": self.next_id,
            "method": "channels.update.new",
            "params": params,
        }

    def sign_request(self, frame: dict[str, Any], *, own: bool) -> dict[str, Any]:
        """The request checked (a transfer, to the next round, to the balances it gives),
        the peer's signature verified if it is the peer's, signed; the reply frame."""
        data = frame["params"]["data"]
        signatures, inner = _split_signed(data["signed_tx"])
        (update,) = data["updates"]
        source, target = (self.ours, self.peer) if own else (self.peer, self.ours)
        amount = update["amount"]
        if update["op"] != "OffChainTransfer" or (update["from"], update["to"]) != (source, target):
            raise ValueError("not the transfer expected")
        if own and (signatures or amount != self.asked):
            raise ValueError("not our transfer")
        message = self.network + inner
        if not own:
            (peer_signature,) = signatures
            self.peer_key.verify(message, peer_signature)  # raises if it is not the peer's
        start, end = _item(inner, 0)
        tag, vsn, channel_id, round_, state_hash = _items(inner, start, end)
        if (
            inner[tag[0] : vsn[1]] != _OFFCHAIN_HEAD
            or inner[channel_id[0] : channel_id[1]] != self.channel_id
        ):
            raise ValueError("not an off-chain tx of this channel")
        if int.from_bytes(inner[round_[0] : round_[1]], "big") != self.round + 1:
            raise ValueError("not the next round")
        after = dict(self.balances)
        after[self.keys[source]] -= amount
        after[self.keys[target]] += amount
        if accounts_state_hash(after) != inner[state_hash[0] : state_hash[1]]:
            raise ValueError("not the state our balances give")
        our_signature = self.key.sign(message).signature
        self.signed, self.after = inner, after
        self.signatures = {*signatures, our_signature}
        text = _encode_signed([*signatures, our_signature], inner)
        return {
            "jsonrpc": "2.0",
            "id": self.next_id,
            "method": "channels.update",
            "params": {"signed_tx": text},
        }

    def co_signed(self, frame: dict[str, Any], *, own: bool) -> None:
        """The co-signed state held to what we signed; the peer's new signature verified."""
        signatures, inner = _split_signed(frame["params"]["data"]["state"])
        new = set(signatures) - self.signatures
        if inner != self.signed or len(signatures) != 2 or len(new) != (1 if own else 0):
            raise ValueError("not the state we signed, with the peer's signature")
        for peer_signature in new:
            self.peer_key.verify(self.network + inner, peer_signature)
        self.round += 1
        self.balances = self.after


def own_transfer_steps(rounds: int, frames_of: FramesOf) -> list[Step]:
    """The floor of each own transfer, on the node frames bench/run.py times the library on."""
    _, node = opened()
    floor = _Floor(node)

    def step(request_frame: dict[str, Any], update_frame: dict[str, Any]) -> None:
        floor.request(1)
        floor.sign_request(request_frame, own=True)
        floor.co_signed(update_frame, own=True)

    frames = frames_of(node, rounds)
    return [functools.partial(step, *pair) for pair in frames]


def ack_transfer_steps(rounds: int, frames_of: FramesOf) -> list[Step]:
    """The floor of each transfer of the peer's, as bench/run.py times the library on it."""
    _, node = opened()
    floor = _Floor(node)

    def step(request_frame: dict[str, Any], update_frame: dict[str, Any]) -> None:
        floor.sign_request(request_frame, own=False)
        floor.co_signed(update_frame, own=False)

    frames = frames_of(node, rounds)
    return [functools.partial(step, *pair) for pair in frames]


def main() -> None:
    import run  # bench/run.py, beside this file: its frames and its timing

    rounds = 500
    _, _, own = run.against_baseline(own_transfer_steps(rounds, run.own_transfer_frames))
    _, _, ack = run.against_baseline(ack_transfer_steps(rounds, run.ack_transfer_frames))
    print(f"floor_own_transfer_ratio {own:.2f}")
    print(f"floor_ack_transfer_ratio {ack:.2f}")


if __name__ == "__main__":
    main()
