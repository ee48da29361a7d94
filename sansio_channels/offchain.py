"""The channel's off-chain accounts, as far as a client can know them.

A channel that holds only accounts is fully described by the two participants' balances: the
state hash in every create, off-chain, deposit and withdraw tx follows from them, so
:meth:`OffChainState.state_hash` lets a client check what it signs. The balances start from the
open options (:meth:`OffChainState.initial`) or a create tx (:meth:`OffChainState.from_create_tx`)
and move with each co-signed list of updates (:meth:`OffChainState.apply`).

What a client can and cannot know:

* transfer, deposit, withdraw and meta updates are exact: the balances after them are the
  node's, and so is the state hash;
* once a contract is created or called, the state also holds the contract, its store and the
  call results, which only the VM can produce: :meth:`OffChainState.state_hash` is then None.
  The participants' balances are still moved by what the updates say (a create's deposit, a
  call's amount), but that is an estimate, not the node's figure: a contract may pay a
  participant (``Chain.spend``) and the node may charge gas. ``exact`` says which case holds,
  and a debit the estimate cannot cover makes the balances unknown instead of refusing it;
* balances may be unknown altogether (a channel resumed without its history): then nothing
  about them is checked and the state hash is None.

The ``updates`` of a sign request come as JSON; :func:`updates_from_json`
turns them into the update objects of :mod:`.txs` and :func:`update_to_json` back.

Errors: malformed JSON raises :class:`RemoteProtocolError` saying which update and field;
an update a node would refuse (unknown participant, a balance going negative or below the
channel reserve) raises :class:`UpdateRefused`, itself a :class:`RemoteProtocolError` because
updates come from the node. Misuse of the API raises :class:`LocalProtocolError`.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import attrs

from . import encoding
from .codec import JSON, ChainObject
from .encoding import Id, IdTag
from .errors import DecodingError, LocalProtocolError, RemoteProtocolError
from .options import ANY_INITIATOR, OpenOptions
from .trees import accounts_state_hash
from .txs import (
    CREATE_TXS,
    ChannelCreateTx,
    ChannelCreateTxV1,
    OffChainCallContract,
    OffChainDeposit,
    OffChainMeta,
    OffChainNewContract,
    OffChainTransfer,
    OffChainUpdate,
    OffChainWithdrawal,
)

__all__ = [
    "OffChainState",
    "UpdateRefused",
    "pack_ct_version",
    "unpack_ct_version",
    "update_to_json",
    "updates_from_json",
    "updates_to_json",
]

_MAX_INT: Final = 2**256 - 1  # amounts are uint256 on chain
_MAX_VERSION: Final = 2**16 - 1  # vm and abi versions are 16 bits in a ct_version


class UpdateRefused(RemoteProtocolError):
    """An off-chain update a node would refuse: one naming an account that is not a
    participant, a transfer to oneself, a transfer or withdrawal that leaves the payer below
    the channel reserve (the node's "insufficient balance", 1001), any other debit below zero.
    """


# --- vm / abi versions (aect_contracts:pack_vm_abi/1) -----------------------------------


def pack_ct_version(vm_version: int, abi_version: int) -> int:
    """The ``ct_version`` of a contract create: ``vm << 16 | abi``, or ``abi`` for legacy
    ``vm == abi <= 2``."""
    if vm_version == abi_version <= 2:
        return abi_version
    return vm_version << 16 | abi_version


def unpack_ct_version(ct_version: int) -> tuple[int, int]:
    """``(vm_version, abi_version)`` of a ``ct_version``; a legacy one names both."""
    if ct_version <= _MAX_VERSION:
        return ct_version, ct_version
    return ct_version >> 16, ct_version & _MAX_VERSION


# --- the JSON form of updates -----------------------------------------------------------


def _describe(value: object) -> str:
    if isinstance(value, str):
        return repr(encoding.short(value))
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"an int of {value.bit_length()} bits"
    return f"a {type(value).__name__}"


def _parse_int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"expected an integer, got {_describe(value)}")
    if not 0 <= value <= _MAX_INT:
        raise ValueError(f"must be a uint256, got {_describe(value)}")
    return int(value)  # a subclass of int (an IntEnum, say) becomes the plain number


def _parse_version(value: object) -> int:
    number = _parse_int(value)
    if number > _MAX_VERSION:
        raise ValueError(f"must be < 65536, got {_describe(value)}")
    return number


def _parse_id(tag: IdTag) -> Callable[[object], Id]:
    def parse(value: object) -> Id:
        if not isinstance(value, str):
            raise ValueError(f"expected a {tag.prefix}_ string, got {_describe(value)}")
        try:
            return Id.from_api(value, tag)
        except DecodingError as exc:
            raise ValueError(str(exc)) from None

    return parse


def _parse_code(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected a cb_ string, got {_describe(value)}")
    try:
        return encoding.decode(value, "cb")
    except DecodingError as exc:
        raise ValueError(str(exc)) from None


def _parse_ints(value: object) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list of integers, got {_describe(value)}")
    return tuple(_parse_int(item) for item in value)


def _parse_text(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_describe(value)}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("not valid unicode text") from None


def _show_text(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise LocalProtocolError("meta data that is not UTF-8 has no JSON form") from None


def _show_id(value: Id) -> str:
    return value.api


def _show_code(value: bytes) -> str:
    return encoding.encode("cb", value)


def _show_ints(value: tuple[int, ...]) -> list[JSON]:
    return list(value)


def _same(value: Any) -> Any:
    return value


@attrs.frozen
class _Field:
    key: str  # in the JSON form
    attr: str  # on the update object (for a contract create's versions: the JSON key)
    parse: Callable[[object], Any]
    show: Callable[[Any], JSON]


def _field(key: str, kind: str, attr: str | None = None) -> _Field:
    parse, show = _KINDS[kind]
    return _Field(key, attr or key, parse, show)


_KINDS: Final[dict[str, tuple[Callable[[object], Any], Callable[[Any], JSON]]]] = {
    "account": (_parse_id(IdTag.ACCOUNT), _show_id),
    "contract": (_parse_id(IdTag.CONTRACT), _show_id),
    "int": (_parse_int, _same),
    "version": (_parse_version, _same),
    "code": (_parse_code, _show_code),
    "ints": (_parse_ints, _show_ints),
    "text": (_parse_text, _show_text),
}


def _attrs_as_is(values: dict[str, Any]) -> dict[str, Any]:
    return values


def _pack_versions(values: dict[str, Any]) -> dict[str, Any]:
    vm, abi = values.pop("vm_version"), values.pop("abi_version")
    return {**values, "ct_version": pack_ct_version(vm, abi)}


def _unpack_versions(values: dict[str, Any]) -> dict[str, Any]:
    vm, abi = unpack_ct_version(values.pop("ct_version"))
    return {**values, "vm_version": vm, "abi_version": abi}


@attrs.frozen
class _Form:
    """The JSON form of one kind of update: its ``op`` and fields."""

    op: str
    cls: type[ChainObject]
    fields: tuple[_Field, ...]
    # JSON-side values to the object's attributes, and back (contract create packs versions).
    to_attrs: Callable[[dict[str, Any]], dict[str, Any]] = _attrs_as_is
    from_attrs: Callable[[dict[str, Any]], dict[str, Any]] = _attrs_as_is

    @functools.cached_property
    def keys(self) -> frozenset[object]:
        """The keys its JSON form may hold, ``op`` included."""
        return frozenset(("op", *(field.key for field in self.fields)))


_FORMS: Final[tuple[_Form, ...]] = (
    _Form(
        "OffChainTransfer",
        OffChainTransfer,
        (
            _field("from", "account", "from_id"),
            _field("to", "account", "to_id"),
            _field("amount", "int"),
        ),
    ),
    _Form(
        "OffChainDeposit",
        OffChainDeposit,
        (_field("from", "account", "from_id"), _field("amount", "int")),
    ),
    _Form(
        "OffChainWithdrawal",
        OffChainWithdrawal,
        (_field("to", "account", "to_id"), _field("amount", "int")),
    ),
    _Form(
        "OffChainNewContract",
        OffChainNewContract,
        (
            _field("owner", "account", "owner_id"),
            _field("vm_version", "version"),
            _field("abi_version", "version"),
            _field("code", "code"),
            _field("deposit", "int"),
            _field("call_data", "code"),
        ),
        _pack_versions,
        _unpack_versions,
    ),
    _Form(
        "OffChainCallContract",
        OffChainCallContract,
        (
            _field("caller_id", "account"),
            _field("contract_id", "contract"),
            _field("abi_version", "int"),
            _field("amount", "int"),
            _field("gas", "int"),
            _field("gas_price", "int"),
            _field("call_data", "code"),
            _field("call_stack", "ints"),
        ),
    ),
    _Form("OffChainMeta", OffChainMeta, (_field("data", "text"),)),
)
_BY_OP: Final = {form.op: form for form in _FORMS}
_BY_CLASS: Final = {form.cls: form for form in _FORMS}


def updates_from_json(value: object) -> tuple[OffChainUpdate, ...]:
    """The update objects of a sign request's ``updates`` list (client JSON form).

    Raises :class:`RemoteProtocolError` naming the update and field that is wrong; nothing
    else escapes, whatever ``value`` is.
    """
    if not isinstance(value, list):
        raise RemoteProtocolError(f"updates: expected a list, got {_describe(value)}")
    return tuple(_update_from_json(i, item) for i, item in enumerate(value))


def _update_from_json(index: int, item: object) -> OffChainUpdate:
    if not isinstance(item, dict):
        raise RemoteProtocolError(f"updates[{index}]: expected an object, got {_describe(item)}")
    op = item.get("op")
    form = _BY_OP.get(op) if isinstance(op, str) else None
    if form is None:
        known = ", ".join(_BY_OP)
        raise RemoteProtocolError(
            f"updates[{index}].op: expected one of {known}, got {_describe(op)}"
        )
    # Strict: a field we do not know could change what the update means.
    if not form.keys.issuperset(item):
        unknown = sorted(str(key) for key in item if key not in form.keys)
        names = ", ".join(_describe(key) for key in unknown[:5])
        raise RemoteProtocolError(f"updates[{index}]: unknown field(s) for {form.op}: {names}")
    values: dict[str, Any] = {}
    for field in form.fields:
        if field.key not in item:
            raise RemoteProtocolError(f"updates[{index}].{field.key}: missing ({form.op})")
        try:
            values[field.attr] = field.parse(item[field.key])
        except ValueError as exc:
            raise RemoteProtocolError(f"updates[{index}].{field.key}: {exc}") from None
    update: OffChainUpdate = form.cls(**form.to_attrs(values))  # type: ignore[assignment]
    return update


def update_to_json(update: OffChainUpdate) -> dict[str, JSON]:
    """The client JSON form of an update, as the node writes it in sign requests."""
    form = _BY_CLASS.get(type(update))
    if form is None:
        raise LocalProtocolError(f"not an off-chain update: {type(update).__name__}")
    attributes = {name: getattr(update, name) for name, _codec in form.cls.FIELDS}
    values = form.from_attrs(attributes)
    view: dict[str, JSON] = {"op": form.op}
    for field in form.fields:
        view[field.key] = field.show(values[field.attr])
    return view


def updates_to_json(updates: Iterable[OffChainUpdate]) -> list[JSON]:
    return [update_to_json(update) for update in updates]


# --- the accounts -----------------------------------------------------------------------


def _pubkey(name: str, value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != 32:
        raise LocalProtocolError(f"{name}: a 32-byte public key is required")
    return value


def _freeze_balances(value: Mapping[bytes, int] | None) -> Mapping[bytes, int] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LocalProtocolError(f"balances: expected a mapping or None, got {_describe(value)}")
    return types.MappingProxyType(dict(value))


@attrs.frozen(kw_only=True)
class OffChainState:
    """The participants' balances in the channel's off-chain state, as far as they are known.

    ``balances`` maps each participant's 32-byte public key to its balance, or is None when
    unknown. ``contracts`` tells that a contract was created in the channel: from then on the
    state hash cannot be predicted and the balances are an estimate (see the module doc).
    """

    initiator: bytes
    responder: bytes
    balances: Mapping[bytes, int] | None = attrs.field(converter=_freeze_balances, hash=False)
    contracts: bool = False
    channel_reserve: int = 0
    # The last updates applied and the state they gave: the checks and the ledger both ask
    # for the state a sign request leads to. (A state is immutable, so this never goes stale.)
    _applied: tuple[tuple[OffChainUpdate, ...], OffChainState] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )
    _hash: bytes | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _pubkey("initiator", self.initiator)
        _pubkey("responder", self.responder)
        if self.initiator == self.responder:
            raise LocalProtocolError("the initiator and the responder must be different accounts")
        if type(self.channel_reserve) is not int or self.channel_reserve < 0:
            raise LocalProtocolError("channel_reserve: a non-negative int is required")
        if self.balances is not None:
            if set(self.balances) != {self.initiator, self.responder}:
                raise LocalProtocolError("balances: exactly the two participants are required")
            if any(type(b) is not int or b < 0 for b in self.balances.values()):
                raise LocalProtocolError("balances: non-negative ints are required")

    # -- building ----------------------------------------------------------------------

    @classmethod
    def initial(cls, options: OpenOptions, *, initiator_id: Id | None = None) -> OffChainState:
        """The state of round 1 from open options: the push moves to the responder.

        A responder that opened with ``initiator_id=any`` names the initiator it learnt.
        """
        if not isinstance(options, OpenOptions):
            raise LocalProtocolError("OpenOptions are required")
        if options.initiator_id != ANY_INITIATOR:
            named = Id.account(options.initiator_id)
            if initiator_id is not None and initiator_id != named:
                raise LocalProtocolError("initiator_id: differs from the options' initiator_id")
            initiator_id = named
        if initiator_id is None:
            raise LocalProtocolError('initiator_id: required when the options say "any"')
        return cls._opened(
            initiator_id.key,
            Id.account(options.responder_id).key,
            options.initiator_amount,
            options.responder_amount,
            options.push_amount,
            options.channel_reserve,
        )

    @classmethod
    def from_create_tx(
        cls, tx: ChannelCreateTx | ChannelCreateTxV1, push_amount: int
    ) -> OffChainState:
        """The state of round 1 from a create tx (whose amounts are before the push).

        Raises :class:`UpdateRefused` if the push does not fit (the node would refuse it).
        """
        if not isinstance(tx, CREATE_TXS):
            raise LocalProtocolError(f"a channel_create_tx is required, got {type(tx).__name__}")
        if type(push_amount) is not int or push_amount < 0:
            raise LocalProtocolError("push_amount: a non-negative int is required")
        if tx.initiator_id == tx.responder_id:
            raise UpdateRefused("the create tx names the same account as both participants")
        if push_amount > tx.initiator_amount:
            raise UpdateRefused("the push amount exceeds the initiator's amount")
        return cls._opened(
            tx.initiator_id.key,
            tx.responder_id.key,
            tx.initiator_amount,
            tx.responder_amount,
            push_amount,
            tx.channel_reserve,
        )

    @classmethod
    def _opened(
        cls,
        initiator: bytes,
        responder: bytes,
        i_amount: int,
        r_amount: int,
        push: int,
        reserve: int,
    ) -> OffChainState:
        # aesc_offchain_state: the push is already moved in the first state.
        return cls(
            initiator=initiator,
            responder=responder,
            balances={initiator: i_amount - push, responder: r_amount + push},
            channel_reserve=reserve,
        )

    # -- reading -----------------------------------------------------------------------

    @property
    def exact(self) -> bool:
        """Whether ``balances`` are the node's figures (known, and no contract in the way)."""
        return self.balances is not None and not self.contracts

    @property
    def participants(self) -> tuple[bytes, bytes]:
        return self.initiator, self.responder

    def state_hash(self) -> bytes | None:
        """The state hash of this state, or None when it cannot be known (contracts present,
        balances unknown)."""
        if not self.exact:
            return None
        assert self.balances is not None
        if self._hash is None:
            object.__setattr__(self, "_hash", accounts_state_hash(self.balances))
        return self._hash

    def unknown_reason(self) -> str | None:
        """Why :meth:`state_hash` is None, or None when it is not."""
        if self.balances is None:
            return "the balances are unknown"
        if self.contracts:
            return "contracts are in the channel: their state and call results come from the VM"
        return None

    def close_mutual_amounts(self, fee: int) -> frozenset[tuple[int, int]] | None:
        """The final (initiator, responder) amounts of a mutual close paying ``fee``, as the
        node's ``pay_close_mutual_fee`` takes it out of the balances: the initiator pays the
        larger half and the responder the smaller, or the other way round if that does not
        fit; a side that cannot pay its half pays all it has and the other the rest. Empty if
        the channel cannot pay the fee; None if the balances are not known exactly.
        """
        if not self.exact:
            return None
        assert self.balances is not None
        initiator, responder = self.balances[self.initiator], self.balances[self.responder]
        # The node halves with floats (math:ceil(Fee/2)): exact below 2**53; both are allowed.
        halves = {((fee + 1) // 2, fee // 2), (math.ceil(fee / 2), math.floor(fee / 2))}
        found: set[tuple[int, int]] = set()
        for ceil, floor in halves:
            if initiator >= ceil and responder >= floor:
                found.add((initiator - ceil, responder - floor))
            elif responder >= ceil and initiator >= floor:
                found.add((initiator - floor, responder - ceil))
            elif initiator + responder >= fee:
                paid = initiator if initiator < ceil else fee - responder
                found.add((initiator - paid, responder - (fee - paid)))
        return frozenset(found)

    # -- moving ------------------------------------------------------------------------

    def apply(self, updates: Iterable[OffChainUpdate]) -> OffChainState:
        """The state after ``updates``, in order; raises :class:`UpdateRefused` for an update a
        node would refuse."""
        if type(updates) is tuple and self._applied is not None and self._applied[0] == updates:
            return self._applied[1]
        after = self._apply(updates)
        if type(updates) is tuple:
            object.__setattr__(self, "_applied", (updates, after))
        return after

    def _apply(self, updates: Iterable[OffChainUpdate]) -> OffChainState:
        balances = None if self.balances is None else dict(self.balances)
        contracts = self.contracts
        for index, update in enumerate(updates):
            where = f"updates[{index}]"
            moves = self._moves(where, update)
            if balances is not None:  # exact until a contract is in the way
                balances = self._move(where, balances, moves, contracts)
            if isinstance(update, (OffChainNewContract, OffChainCallContract)):
                contracts = True
        return self._after(balances, contracts)

    def _after(self, balances: dict[bytes, int] | None, contracts: bool) -> OffChainState:
        """This state with ``balances`` and ``contracts``."""
        return OffChainState(
            initiator=self.initiator,
            responder=self.responder,
            balances=balances,
            contracts=contracts,
            channel_reserve=self.channel_reserve,
        )

    def _moves(self, where: str, update: object) -> list[tuple[Id, int, bool]]:
        """(account, signed amount, checked against the reserve) for each balance it moves."""
        if isinstance(update, OffChainTransfer):
            if update.from_id == update.to_id:
                raise UpdateRefused(f"{where}: a transfer from {update.from_id} to itself")
            moves = [(update.from_id, -update.amount, True), (update.to_id, update.amount, False)]
        elif isinstance(update, OffChainDeposit):
            moves = [(update.from_id, update.amount, False)]
        elif isinstance(update, OffChainWithdrawal):
            moves = [(update.to_id, -update.amount, True)]
        elif isinstance(update, OffChainNewContract):
            moves = [(update.owner_id, -update.deposit, False)]
        elif isinstance(update, OffChainCallContract):
            moves = [(update.caller_id, -update.amount, False)]
        elif isinstance(update, OffChainMeta):
            moves = []  # free data: not in the state
        else:
            raise LocalProtocolError(f"{where}: not an off-chain update: {type(update).__name__}")
        for account, _amount, _reserve in moves:
            if account.tag is not IdTag.ACCOUNT or account.key not in self.participants:
                raise UpdateRefused(f"{where}: {account} is not a participant of the channel")
        return moves

    def _move(
        self,
        where: str,
        balances: dict[bytes, int],
        moves: list[tuple[Id, int, bool]],
        contracts: bool,
    ) -> dict[bytes, int] | None:
        for account, amount, reserve in moves:
            after = balances[account.key] + amount
            floor = self.channel_reserve if reserve else 0
            if amount < 0 and after < floor:
                if contracts:
                    # A contract may have paid this participant: the estimate is just out of date.
                    return None
                what = "the channel reserve" if reserve and floor else "zero"
                raise UpdateRefused(
                    f"{where}: {account} has {balances[account.key]}, cannot pay {-amount} "
                    f"without going below {what}"
                )
            balances[account.key] = after
        return balances
