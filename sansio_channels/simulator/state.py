"""The records an FSM keeps: its states, the operation under way, its latest co-signed state,
and the pure helpers that move balances and build the txs."""

from __future__ import annotations

import enum
import math
import types
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .. import txs as t
from ..encoding import Id, IdTag
from ..rpc import ErrorDataCode
from ..trees import accounts_state_hash
from .frames import NodeError
from .trees import Balances

__all__ = [
    "TIMERS",
    "CoSigned",
    "OpKind",
    "Pending",
    "Request",
    "State",
    "apply_updates",
    "close_mutual_amounts",
    "offchain_tx",
    "unsigned",
]


class State(enum.Enum):
    """The node FSM's states (aesc_fsm), as far as a client can tell them apart."""

    AWAITING_CONNECT = "awaiting_connect"  # initiator: no responder listening yet
    INITIALIZED = "initialized"  # initiator: channel_open sent
    AWAITING_OPEN = "awaiting_open"  # responder: listening
    ACCEPTED = "accepted"  # responder: channel_accept sent
    AWAITING_SIGNATURE = "awaiting_signature"  # our client is asked to sign
    HALF_SIGNED = "half_signed"  # initiator: create tx sent to the responder
    AWAITING_LOCKED = "awaiting_locked"  # a funding tx waits for minimum depth
    SIGNED = "signed"  # own minimum depth reached, the peer's not yet
    OPEN = "open"
    AWAITING_UPDATE_ACK = "awaiting_update_ack"
    MUTUAL_CLOSING = "mutual_closing"  # shutdown sent, waiting for the ack
    MUTUAL_CLOSED = "mutual_closed"  # close_mutual posted
    AWAITING_LEAVE_ACK = "awaiting_leave_ack"
    CHANNEL_CLOSING = "channel_closing"  # solo-closing on chain
    CHANNEL_CLOSED = "channel_closed"  # closed on chain, waiting for minimum depth
    REESTABLISH_INIT = "reestablish_init"  # initiator: reestablish sent
    AWAITING_REESTABLISH = "awaiting_reestablish"  # responder: listening for a reestablish
    TERMINATED = "terminated"


# The timer each state runs (aesc_fsm.hrl ?TIMER_SUBST), by timeout_<name>.
TIMERS: Final[Mapping[State, str]] = {
    State.AWAITING_CONNECT: "initialized",
    State.INITIALIZED: "initialized",
    State.AWAITING_OPEN: "awaiting_open",
    State.ACCEPTED: "funding_create",
    State.AWAITING_SIGNATURE: "sign",
    State.HALF_SIGNED: "funding_sign",
    State.AWAITING_LOCKED: "funding_lock",
    State.SIGNED: "funding_lock",
    State.OPEN: "idle",
    State.AWAITING_UPDATE_ACK: "accept",
    State.MUTUAL_CLOSING: "accept",
    State.MUTUAL_CLOSED: "idle",
    State.AWAITING_LEAVE_ACK: "accept",
    State.CHANNEL_CLOSING: "idle",
    State.CHANNEL_CLOSED: "idle",
    State.REESTABLISH_INIT: "accept",
    State.AWAITING_REESTABLISH: "idle",
}
# timeout_<name> defaults in ms; initialized = accept, awaiting_open = idle.
DEFAULT_TIMEOUTS: Final = {
    "idle": 600_000,
    "funding_create": 120_000,
    "funding_sign": 120_000,
    "funding_lock": 360_000,
    "sign": 500_000,
    "accept": 120_000,
}
# Requests the opening handshake answers with 108 "Not ready".
OPENING: Final = frozenset(
    {
        State.AWAITING_CONNECT,
        State.INITIALIZED,
        State.AWAITING_OPEN,
        State.ACCEPTED,
        State.HALF_SIGNED,
        State.REESTABLISH_INIT,
        State.AWAITING_REESTABLISH,
    }
)
# States in which a new operation waits until the FSM is back in open.
TRANSITIONS: Final = frozenset(
    {
        State.AWAITING_SIGNATURE,
        State.AWAITING_LOCKED,
        State.SIGNED,
        State.AWAITING_UPDATE_ACK,
        State.AWAITING_LEAVE_ACK,
        State.MUTUAL_CLOSING,
    }
)


class OpKind(enum.Enum):
    CREATE = "create"
    TRANSFER = "transfer"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    SHUTDOWN = "shutdown"
    CLOSE_SOLO = "close_solo"
    SLASH = "slash"
    SETTLE = "settle"
    SNAPSHOT = "snapshot"

    @property
    def co_signed(self) -> bool:
        """Both participants sign it (else only the client that asked for it)."""
        return self in _CO_SIGNED


_CO_SIGNED: Final = frozenset(
    {OpKind.CREATE, OpKind.TRANSFER, OpKind.DEPOSIT, OpKind.WITHDRAW, OpKind.SHUTDOWN}
)


@attrs.frozen(kw_only=True)
class Request:
    """A client request as the FSM gets it: method, params, the frame for replies, and the
    connection it came on (its reply goes there only)."""

    method: str
    params: Mapping[str, Any]
    frame: Mapping[str, Any]
    origin: int | None = None

    @property
    def has_id(self) -> bool:
        return "id" in self.frame

    @property
    def id(self) -> Any:
        return self.frame.get("id")


def _frozen(balances: Balances) -> Balances:
    return types.MappingProxyType(dict(balances))


@attrs.frozen(kw_only=True)
class CoSigned:
    """A state both participants signed: the channel's latest, what a close falls back on."""

    signed: t.SignedTx
    round: int
    balances: Balances = attrs.field(converter=_frozen)
    on_chain: bool = False  # the tx itself is on chain (create, deposit, ..., a snapshot)

    @property
    def off_chain(self) -> bool:
        return isinstance(self.signed.transaction, t.ChannelOffChainTx)


@attrs.frozen(kw_only=True)
class Pending:
    """The operation the FSM asked its client to sign."""

    kind: OpKind
    tag: str  # the sign tag the client got
    own: bool  # our client started it (else it is the peer's, to acknowledge)
    signed: t.SignedTx  # as sent for signing (the peer's signature in it when acknowledging)
    updates: tuple[t.OffChainUpdate, ...] = ()
    balances: Balances | None = attrs.field(default=None)  # the state it leads to
    round: int | None = None
    back: State = State.OPEN  # where an abort or a rollback returns to


# --- balances and txs --------------------------------------------------------------------


def apply_updates(
    balances: Balances, updates: tuple[t.OffChainUpdate, ...], reserve: int
) -> dict[bytes, int]:
    """The balances after ``updates``; 1001 if a payer would go below the reserve."""
    after = dict(balances)
    for update in updates:
        moves: list[tuple[Id, int]] = []
        if isinstance(update, t.OffChainTransfer):
            moves = [(update.from_id, -update.amount), (update.to_id, update.amount)]
        elif isinstance(update, t.OffChainDeposit):
            moves = [(update.from_id, update.amount)]
        elif isinstance(update, t.OffChainWithdrawal):
            moves = [(update.to_id, -update.amount)]
        for account, amount in moves:
            if account.key not in after:
                raise NodeError.rejected(ErrorDataCode.INVALID_PUBKEYS)
            after[account.key] += amount
            if amount < 0 and after[account.key] < reserve:
                raise NodeError.rejected(ErrorDataCode.INSUFFICIENT_BALANCE)
    return after


def offchain_tx(channel_id: bytes, round_: int, balances: Balances) -> t.ChannelOffChainTx:
    return t.ChannelOffChainTx(
        channel_id=Id(IdTag.CHANNEL, channel_id),
        round=round_,
        state_hash=accounts_state_hash(balances),
    )


def unsigned(tx: Any) -> t.SignedTx:
    return t.SignedTx(signatures=(), transaction=tx)


def close_mutual_amounts(initiator: int, responder: int, fee: int) -> tuple[int, int]:
    """The final amounts of a mutual close: each side pays half the fee (the initiator the
    larger half), and a side that cannot pays what it has (aesc_fsm pay_close_mutual_fee)."""
    ceil, floor = math.ceil(fee / 2) if fee < 2**53 else (fee + 1) // 2, fee // 2
    if initiator >= ceil and responder >= floor:
        return initiator - ceil, responder - floor
    if responder >= ceil and initiator >= floor:
        return initiator - floor, responder - ceil
    if initiator + responder < fee:
        raise NodeError.rejected(ErrorDataCode.INSUFFICIENT_BALANCE)
    paid = initiator if initiator < ceil else fee - responder
    return initiator - paid, responder - (fee - paid)
