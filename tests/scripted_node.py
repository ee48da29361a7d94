"""A node scripted by hand for the channel's unit tests: it builds real, signed frames.

Two participants with known keys; the "node" builds the txs a real node would send (create,
off-chain states with the right state hash, deposits...), signs the peer's part with the peer's
key, and wraps them in the frames of the channel API. Tests doctor them to see the checks refuse.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import attrs

from sansio_channels import commands as cmd
from sansio_channels import crypto, encoding, txs
from sansio_channels.channel import Channel
from sansio_channels.crypto import KeyPair
from sansio_channels.encoding import Id, IdTag
from sansio_channels.events import Event, SignRequest
from sansio_channels.offchain import updates_to_json
from sansio_channels.options import OpenOptions, Role
from sansio_channels.trees import accounts_state_hash

NETWORK: Final = "ae_uat"
INITIATOR: Final = KeyPair.from_secret(bytes([1]) * 32)
RESPONDER: Final = KeyPair.from_secret(bytes([2]) * 32)
AMOUNTS: Final = {"initiator": 1_000_000, "responder": 500_000}
PUSH: Final = 10
RESERVE: Final = 100


def ba(byte: int) -> str:
    """An fsm id (``ba_``, 32 bytes)."""
    return encoding.encode("ba", bytes([byte]) * 32)


def open_options(role: Role) -> OpenOptions:
    return OpenOptions(
        role=role,
        host="localhost" if role is Role.INITIATOR else None,
        port=3015,
        protocol="json-rpc",
        initiator_id=INITIATOR.address,
        responder_id=RESPONDER.address,
        lock_period=10,
        push_amount=PUSH,
        initiator_amount=AMOUNTS["initiator"],
        responder_amount=AMOUNTS["responder"],
        channel_reserve=RESERVE,
    )


def notification(method: str, data: Any, channel_id: str | None = None) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": method,
        "params": {"channel_id": channel_id, "data": data},
        "version": 1,
    }


@attrs.define
class ScriptedNode:
    """The node's side for one participant, scripted: it knows both keys."""

    role: Role
    create: txs.ChannelCreateTx | None = None
    channel_id: str | None = None
    balances: dict[bytes, int] = attrs.Factory(dict)
    round: int = 0
    # The balances each state made by transfer() holds (by its bytes), until it is taken.
    _after: dict[bytes, dict[bytes, int]] = attrs.field(factory=dict, init=False, repr=False)

    @property
    def ours(self) -> KeyPair:
        return INITIATOR if self.role is Role.INITIATOR else RESPONDER

    @property
    def peer(self) -> KeyPair:
        return RESPONDER if self.role is Role.INITIATOR else INITIATOR

    def info(self, event: str, **data: Any) -> dict[str, Any]:
        return notification("channels.info", {"event": event, **data}, self.channel_id)

    def build_create(self, *, initiator_amount: int | None = None) -> txs.ChannelCreateTx:
        # The state hash always agrees with the amounts in the tx, doctored or not.
        initiator_amount = AMOUNTS["initiator"] if initiator_amount is None else initiator_amount
        balances = {
            INITIATOR.public_key: initiator_amount - PUSH,
            RESPONDER.public_key: AMOUNTS["responder"] + PUSH,
        }
        return txs.ChannelCreateTx(
            initiator_id=Id.account(INITIATOR.address),
            initiator_amount=initiator_amount,
            responder_id=Id.account(RESPONDER.address),
            responder_amount=AMOUNTS["responder"],
            channel_reserve=RESERVE,
            lock_period=10,
            ttl=0,
            fee=20_000,
            initiator_delegate_ids=(),
            responder_delegate_ids=(),
            state_hash=accounts_state_hash(balances),
            nonce=1,
        )

    def sign_request(
        self, tag: str, signed: txs.SignedTx, updates: tuple[Any, ...] = ()
    ) -> dict[str, Any]:
        data = {"signed_tx": txs.encode_tx(signed), "updates": updates_to_json(updates)}
        return notification(f"channels.sign.{tag}", data, self.channel_id)

    def offchain(self, round_: int, balances: Mapping[bytes, int]) -> txs.ChannelOffChainTx:
        assert self.channel_id is not None
        return txs.ChannelOffChainTx(
            channel_id=Id.from_api(self.channel_id, IdTag.CHANNEL),
            round=round_,
            state_hash=accounts_state_hash(balances),
        )

    def transfer(
        self, amount: int, *, to_peer: bool
    ) -> tuple[txs.ChannelOffChainTx, tuple[txs.OffChainTransfer, ...]]:
        """The next off-chain state after a transfer, and its updates."""
        source, target = (self.ours, self.peer) if to_peer else (self.peer, self.ours)
        balances = dict(self.balances)
        balances[source.public_key] -= amount
        balances[target.public_key] += amount
        update = txs.OffChainTransfer(
            from_id=Id.account(source.address), to_id=Id.account(target.address), amount=amount
        )
        tx = self.offchain(self.round + 1, balances)
        self._after[tx.serialize()] = balances
        return tx, (update,)

    def co_signed(self, tx: Any) -> txs.SignedTx:
        signed = txs.SignedTx(signatures=(), transaction=tx)
        signed = crypto.sign(signed, INITIATOR, NETWORK)
        return crypto.sign(signed, RESPONDER, NETWORK)

    def peer_signed(self, tx: Any, *, network: str = NETWORK) -> txs.SignedTx:
        return crypto.sign(txs.SignedTx(signatures=(), transaction=tx), self.peer, network)

    def update(self, signed: txs.SignedTx) -> dict[str, Any]:
        return notification("channels.update", {"state": txs.encode_tx(signed)}, self.channel_id)

    def took(self, tx: txs.ChannelOffChainTx) -> None:
        """The state ``tx`` is now co-signed: the node moves on to it (and, for a state made
        by :meth:`transfer`, to its balances)."""
        self.round = tx.round
        self.balances = self._after.pop(tx.serialize(), self.balances)
        self._after.clear()  # states not taken are gone with the round


def transfer_through(channel: Channel, node: ScriptedNode, *, to_peer: bool) -> list[Event]:
    """One transfer of 1 through an open channel, ours or the peer's, every check passing:
    the events of its co-signed state."""
    tx, updates = node.transfer(1, to_peer=to_peer)
    if to_peer:
        channel.submit(cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1))
        request = node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates)
    else:
        request = node.sign_request("update_ack", node.peer_signed(tx), updates)
    channel.frames_to_send()
    for event in feed(channel, request):
        if isinstance(event, SignRequest):
            assert event.checks.ok, event.checks.failed
            event.sign(node.ours)
    channel.frames_to_send()
    events = feed(channel, node.update(node.co_signed(tx)))
    node.took(tx)
    return events


def feed(channel: Channel, *frames: dict[str, Any]) -> list[Event]:
    for frame in frames:
        channel.receive_frame(frame)
    return list(channel.events())


def sign_requests(events: list[Event]) -> list[SignRequest]:
    return [event for event in events if isinstance(event, SignRequest)]


def opened(role: Role = Role.INITIATOR) -> tuple[Channel, ScriptedNode]:
    """A channel taken through the whole open flow, OPEN with round 1 co-signed."""
    channel = Channel(open_options(role), network_id=NETWORK)
    node = ScriptedNode(role=role)
    create = node.build_create()
    node.create = create
    cid = crypto.channel_id(create).api
    feed(channel, node.info("fsm_up", fsm_id=ba(7)))
    if role is Role.INITIATOR:
        events = feed(
            channel,
            node.info("channel_accept"),
            node.sign_request("initiator_sign", txs.SignedTx(signatures=(), transaction=create)),
        )
    else:
        node.channel_id = cid
        events = feed(
            channel,
            node.info("channel_open"),
            node.info("funding_created", fsm_id=ba(7)),
            node.sign_request("responder_sign", node.peer_signed(create)),
        )
    (request,) = sign_requests(events)
    assert request.checks.ok, request.checks
    request.sign(node.ours)
    channel.frames_to_send()
    node.channel_id = cid
    node.balances = {
        INITIATOR.public_key: AMOUNTS["initiator"] - PUSH,
        RESPONDER.public_key: AMOUNTS["responder"] + PUSH,
    }
    node.round = 1
    feed(
        channel,
        node.info("funding_signed", fsm_id=ba(7)),
        node.info("own_funding_locked"),
        node.info("funding_locked"),
        node.info("open"),
        node.update(node.co_signed(create)),
    )
    return channel, node
