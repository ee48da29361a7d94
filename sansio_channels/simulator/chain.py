"""A fake chain: accounts, a mempool, blocks, and the channel objects channel txs act on.

It is as strict as a node's tx validation where a channel depends on it (signatures under the
network id, nonces, balances, rounds, the lock period) and nothing more: there is no
consensus, no gas but the fee, no contract. Blocks are mined only when asked (:meth:`mine`).

Every tx that carries a channel state also names its balances (``post(..., balances=...)``):
the chain checks them against the tx's state hash, so it can pay out a settle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

import attrs

from .. import crypto
from .. import txs as t
from ..codec import ChainObject
from ..trees import accounts_state_hash
from .trees import Balances

__all__ = [
    "BASE_GAS",
    "BYTE_GAS",
    "DEFAULT_BALANCE",
    "MIN_GAS_PRICE",
    "ChainEvent",
    "ChainRejected",
    "ChannelObject",
    "FakeChain",
    "min_fee",
    "pick_fee",
]

# aec_governance: the fee a tx needs is (base gas + gas per byte of the tx) * gas price.
MIN_GAS_PRICE: Final = 1_000_000_000
BASE_GAS: Final = 15_000
BYTE_GAS: Final = 20
# What an account holds when the chain funds every account it is asked about.
DEFAULT_BALANCE: Final = 10**24


class ChainRejected(Exception):
    """The chain refused a tx (what a node's mempool or block validation would refuse)."""


def min_fee(build: Callable[[int], ChainObject], gas_price: int = MIN_GAS_PRICE) -> int:
    """The least fee the tx ``build(fee)`` needs; the fee is part of the tx, so iterate."""
    fee = 0
    while True:
        needed = (BASE_GAS + BYTE_GAS * len(build(fee).serialize())) * gas_price
        if needed <= fee:
            return fee
        fee = needed


def pick_fee(build: Callable[[int], ChainObject], fee: int | None, gas_price: int | None) -> int:
    """The fee the FSM puts in a tx: the client's, or the computed one, the larger of the two
    when both a fee and a gas price are given (channels_api_usage.md)."""
    computed = min_fee(build, max(gas_price or 0, MIN_GAS_PRICE))
    if fee is None:
        return computed
    return max(fee, computed) if gas_price is not None else fee


@attrs.define
class ChannelObject:
    """A channel on chain: its latest on-chain state and where it is in its life."""

    channel_id: bytes
    initiator: bytes
    responder: bytes
    total: int  # all the channel holds
    balances: dict[bytes, int]  # the latest state on chain
    round: int
    state_hash: bytes
    lock_period: int
    status: str = "open"  # open -> closing (solo) -> closed
    locked_until: int = 0  # closing: settle is allowed from this height on

    @property
    def participants(self) -> tuple[bytes, bytes]:
        return self.initiator, self.responder


@attrs.frozen(kw_only=True)
class ChainEvent:
    """A channel tx included in a block."""

    height: int
    channel_id: bytes
    signed_tx: t.SignedTx
    tx_hash: str


class FakeChain:
    """Accounts, nonces, a mempool and the channel objects, block by block."""

    def __init__(self, network_id: str, accounts: Mapping[bytes, int] | None = None) -> None:
        self.network_id = network_id
        self.height = 0
        # With pinned accounts only those exist; otherwise any account asked about is funded.
        self.pinned = accounts is not None
        self.balances: dict[bytes, int] = dict(accounts or {})
        self.nonces: dict[bytes, int] = {}
        self.burnt = 0  # fees: they leave circulation here
        self.mempool: list[tuple[t.SignedTx, Balances | None]] = []
        self.included: dict[str, int] = {}  # tx hash -> height
        self.rejected: dict[str, str] = {}  # tx hash -> why
        self.channels: dict[bytes, ChannelObject] = {}
        self.events: list[ChainEvent] = []
        self._events_by_channel: dict[bytes, list[ChainEvent]] = {}

    # --- accounts --------------------------------------------------------------------------

    def has_account(self, pubkey: bytes) -> bool:
        return not self.pinned or pubkey in self.balances

    def balance(self, pubkey: bytes) -> int:
        if pubkey not in self.balances and not self.pinned:
            self.balances[pubkey] = DEFAULT_BALANCE
        return self.balances.get(pubkey, 0)

    def next_nonce(self, pubkey: bytes) -> int:
        """The nonce of the sender's next tx, counting those waiting in the mempool."""
        pending = sum(1 for signed, _ in self.mempool if _sender(signed.transaction) == pubkey)
        return self.nonces.get(pubkey, 0) + 1 + pending

    def total(self) -> int:
        """Every coin the chain knows: accounts, channels and burnt fees (for conservation)."""
        return (
            sum(self.balances.values())
            + sum(c.total for c in self.channels.values())
            + (self.burnt)
        )

    # --- txs -------------------------------------------------------------------------------

    def post(self, signed: t.SignedTx, balances: Balances | None = None) -> str:
        """Put a signed tx in the mempool; ``balances`` is the channel state it carries."""
        self._check_signatures(signed)
        self.mempool.append((signed, dict(balances) if balances is not None else None))
        return crypto.tx_hash(signed)

    def depth(self, tx_hash: str) -> int | None:
        """Blocks on top of the tx's, its own included; None while it is not in a block."""
        height = self.included.get(tx_hash)
        return None if height is None else self.height - height + 1

    def mine(self, blocks: int = 1) -> list[ChainEvent]:
        """Mine ``blocks`` blocks; the mempool goes into the first one."""
        found: list[ChainEvent] = []
        for _ in range(blocks):
            self.height += 1
            pending, self.mempool = self.mempool, []
            for signed, balances in pending:
                tx_hash = crypto.tx_hash(signed)
                try:
                    channel_id = self._apply(signed.transaction, balances)
                except ChainRejected as exc:
                    self.rejected[tx_hash] = str(exc)
                    continue
                self.included[tx_hash] = self.height
                event = ChainEvent(
                    height=self.height, channel_id=channel_id, signed_tx=signed, tx_hash=tx_hash
                )
                self.events.append(event)
                self._events_by_channel.setdefault(channel_id, []).append(event)
                found.append(event)
        return found

    def channel_events(self, channel_id: bytes) -> list[ChainEvent]:
        """The channel's txs included so far, oldest first."""
        return self._events_by_channel.get(channel_id, [])

    def channel(self, channel_id: bytes) -> ChannelObject | None:
        return self.channels.get(channel_id)

    # --- validation ------------------------------------------------------------------------

    def _check_signatures(self, signed: t.SignedTx) -> None:
        tx = signed.transaction
        message = tx.serialize()
        signers = {
            key
            for signature in signed.signatures
            for key in self._required(tx)
            if crypto.verify(signature, message, self.network_id, key) is not None
        }
        missing = set(self._required(tx)) - signers
        if missing:
            raise ChainRejected(f"{tx.TYPE}: a signature is missing or does not verify")
        payload = getattr(tx, "payload", None)
        if isinstance(payload, t.SignedTx):
            self._check_signatures(payload)

    def _required(self, tx: ChainObject) -> tuple[bytes, ...]:
        if isinstance(tx, t.ChannelCreateTx):
            return tx.initiator_id.key, tx.responder_id.key
        channel = self.channels.get(tx.channel_id.key) if hasattr(tx, "channel_id") else None
        if isinstance(tx, (t.ChannelDepositTx, t.ChannelWithdrawTx, t.ChannelCloseMutualTx)):
            return channel.participants if channel else ()
        if isinstance(tx, t.ChannelOffChainTx):
            return channel.participants if channel else ()
        if hasattr(tx, "from_id"):
            return (tx.from_id.key,)
        raise ChainRejected(f"{tx.TYPE}: not a tx this chain takes")

    def _pay(self, pubkey: bytes, amount: int) -> None:
        if self.balance(pubkey) < amount:
            raise ChainRejected("insufficient balance")
        self.balances[pubkey] -= amount

    def _nonce(self, pubkey: bytes, nonce: int) -> None:
        if nonce != self.nonces.get(pubkey, 0) + 1:
            raise ChainRejected(f"nonce {nonce}, expected {self.nonces.get(pubkey, 0) + 1}")
        self.nonces[pubkey] = nonce

    def _apply(self, tx: ChainObject, balances: Balances | None) -> bytes:
        if isinstance(tx, t.ChannelCreateTx):
            return self._create(tx, balances)
        channel = self.channels.get(getattr(tx, "channel_id").key)  # noqa: B009
        if channel is None or channel.status == "closed":
            raise ChainRejected("no such open channel")
        sender = _sender(tx)
        if sender not in channel.participants:
            raise ChainRejected("the sender is not a participant")
        self._nonce(sender, getattr(tx, "nonce"))  # noqa: B009
        if not isinstance(tx, t.ChannelCloseMutualTx):  # that one's fee is the channel's
            self._pay(sender, getattr(tx, "fee"))  # noqa: B009
            self.burnt += getattr(tx, "fee")  # noqa: B009
        if isinstance(tx, (t.ChannelDepositTx, t.ChannelWithdrawTx)):
            self._funding(channel, tx, balances)
        elif isinstance(tx, t.ChannelCloseMutualTx):
            self._close(channel, tx.initiator_amount_final, tx.responder_amount_final, tx.fee)
        elif isinstance(tx, (t.ChannelCloseSoloTx, t.ChannelSlashTx)):
            self._solo(channel, tx, balances)
        elif isinstance(tx, t.ChannelSettleTx):
            self._settle(channel, tx)
        elif isinstance(tx, t.ChannelSnapshotSoloTx):
            if channel.status != "open":
                raise ChainRejected("a snapshot needs an open channel")
            self._take_state(channel, tx.payload, balances)
        else:
            raise ChainRejected(f"{tx.TYPE}: not a tx this chain takes")
        return channel.channel_id

    def _create(self, tx: t.ChannelCreateTx, balances: Balances | None) -> bytes:
        initiator, responder = tx.initiator_id.key, tx.responder_id.key
        state = self._checked_state(tx.state_hash, balances)
        if sum(state.values()) != tx.initiator_amount + tx.responder_amount:
            raise ChainRejected("the state does not hold the channel's amounts")
        self._nonce(initiator, tx.nonce)
        self._pay(initiator, tx.initiator_amount + tx.fee)
        self._pay(responder, tx.responder_amount)
        self.burnt += tx.fee
        channel_id = crypto.channel_id(tx).key
        self.channels[channel_id] = ChannelObject(
            channel_id=channel_id,
            initiator=initiator,
            responder=responder,
            total=tx.initiator_amount + tx.responder_amount,
            balances=dict(state),
            round=1,
            state_hash=tx.state_hash,
            lock_period=tx.lock_period,
        )
        return channel_id

    def _checked_state(self, state_hash: bytes, balances: Balances | None) -> Balances:
        if balances is None or accounts_state_hash(balances) != state_hash:
            raise ChainRejected("the balances do not give the tx's state hash")
        return balances

    def _funding(
        self,
        channel: ChannelObject,
        tx: t.ChannelDepositTx | t.ChannelWithdrawTx,
        balances: Balances | None,
    ) -> None:
        state = self._checked_state(tx.state_hash, balances)
        if tx.round <= channel.round:
            raise ChainRejected(f"round {tx.round} is not after the on-chain {channel.round}")
        if isinstance(tx, t.ChannelDepositTx):
            self._pay(tx.from_id.key, tx.amount)
            channel.total += tx.amount
        else:
            channel.total -= tx.amount
            self.balances[tx.to_id.key] = self.balance(tx.to_id.key) + tx.amount
        channel.balances, channel.round, channel.state_hash = dict(state), tx.round, tx.state_hash

    def _take_state(
        self, channel: ChannelObject, payload: t.SignedTx | None, balances: Balances | None
    ) -> None:
        if payload is None:
            return  # the latest state on chain stays
        inner = payload.transaction
        if not isinstance(inner, t.ChannelOffChainTx) or inner.channel_id.key != (
            channel.channel_id
        ):
            raise ChainRejected("the payload is not an off-chain state of this channel")
        state = self._checked_state(inner.state_hash, balances)
        if inner.round <= channel.round:
            raise ChainRejected(f"round {inner.round} is not after the on-chain {channel.round}")
        channel.balances, channel.round, channel.state_hash = (
            dict(state),
            inner.round,
            inner.state_hash,
        )

    def _solo(
        self,
        channel: ChannelObject,
        tx: t.ChannelCloseSoloTx | t.ChannelSlashTx,
        balances: Balances | None,
    ) -> None:
        if isinstance(tx, t.ChannelSlashTx) and channel.status != "closing":
            raise ChainRejected("slash needs a closing channel")
        if isinstance(tx, t.ChannelCloseSoloTx) and channel.status != "open":
            raise ChainRejected("close_solo needs an open channel")
        self._take_state(channel, tx.payload, balances)
        channel.status = "closing"
        channel.locked_until = self.height + channel.lock_period

    def _settle(self, channel: ChannelObject, tx: t.ChannelSettleTx) -> None:
        if channel.status != "closing" or self.height < channel.locked_until:
            raise ChainRejected("settle needs a closing channel past its lock period")
        state = (channel.balances[channel.initiator], channel.balances[channel.responder])
        if (tx.initiator_amount_final, tx.responder_amount_final) != state:
            raise ChainRejected("the settle amounts are not the on-chain state")
        self._close(channel, *state, fee=0)

    def _close(self, channel: ChannelObject, initiator: int, responder: int, fee: int) -> None:
        if initiator + responder + fee != channel.total:
            raise ChainRejected("the final amounts and the fee are not what the channel holds")
        self.balances[channel.initiator] = self.balance(channel.initiator) + initiator
        self.balances[channel.responder] = self.balance(channel.responder) + responder
        channel.total = 0
        channel.status = "closed"
        self.burnt += fee


def _sender(tx: ChainObject) -> bytes:
    """Whose nonce a tx uses and who pays its fee."""
    if isinstance(tx, t.ChannelCreateTx):
        return tx.initiator_id.key
    for name in ("from_id", "to_id"):
        value = getattr(tx, name, None)
        if value is not None:
            return bytes(value.key)
    return b""
