"""Commands: every client → node request that is not a sign reply.

One frozen class per method. A command checks its arguments when built, so a wrong value raises
:class:`LocalProtocolError` at the call, naming the parameter and the reason, and nothing is sent.
:meth:`Command.params` is exactly the ``params`` object the node expects (optional params left
out when not given) and :meth:`Command.request` the whole frame.

Fields have Python names; where that differs from the node's param name, the field's metadata
holds the param name (``Transfer.from_id`` is sent as ``from``). :func:`command_from_frame` reads
a recorded or foreign request back into its command through the same checks: a frame the typed
API would never send is refused, never passed through.

Sign replies (``channels.update``, ``channels.*_sign``, ``channels.*_tx``, ``channels.*_ack``)
belong to sign requests and are built there.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final, NoReturn, TypeAlias, TypeVar

import attrs

from . import encoding, rpc
from .errors import DecodingError, LocalProtocolError
from .fate.aci import Aci
from .fate.calldata import Interface

# The ABI of FATE contracts (the one the typed commands make call data for).
FATE_ABI_VERSION: Final = 3

__all__ = [
    "HISTORY_TAGS",
    "HISTORY_TYPES",
    "MAX_MESSAGE_BYTES",
    "AssumeMinimumDepth",
    "CallContract",
    "CleanContractCalls",
    "CloseSolo",
    "Command",
    "CommandKind",
    "Deposit",
    "DryRunCallContract",
    "FetchHistory",
    "ForceProgress",
    "GetBalances",
    "GetContract",
    "GetContractCall",
    "GetOffchainState",
    "GetPoi",
    "Leave",
    "Message",
    "NewContract",
    "Ping",
    "Settle",
    "Shutdown",
    "Slash",
    "SnapshotSolo",
    "StopFsm",
    "Transfer",
    "Withdraw",
    "command_from_frame",
]


class CommandKind(enum.Enum):
    """What the node does with a command, hence what the caller waits for."""

    # Our own operation: the node answers with a sign request for us (channels.sign.*).
    OPERATION = "operation"
    # A question: answered by a result (or, sent without an id, a channels.*.reply notification).
    QUERY = "query"
    # No answer of its own (at most "ok" to an id); what follows arrives as notifications.
    NOTICE = "notice"


# Amounts, fees and nonces are uint256 on chain; the bound also keeps str(int) cheap.
_MAX_INT: Final = 2**256 - 1
# aesc_codec:max_inband_msg_size/0; a longer message is refused with -32603.
MAX_MESSAGE_BYTES: Final = 65000
HISTORY_TYPES: Final = ("rpt", "rcv", "snd", "req")
HISTORY_TAGS: Final = ("info", "on_chain_tx", "conflict", "update", "leave", "error", "debug")


# -- checks: each takes the name to report and the value, and raises LocalProtocolError ---------

_Check: TypeAlias = Callable[[str, object], None]
_Validator: TypeAlias = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def _describe(value: object) -> str:
    """A short description of a hostile value: never a huge repr, never a deep walk."""
    if isinstance(value, str):
        return repr(encoding.short(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"an int of {value.bit_length()} bits"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def _fail(name: str, reason: str) -> NoReturn:
    raise LocalProtocolError(f"{name}: {reason}")


def _int(minimum: int) -> _Check:
    def check(name: str, value: object) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            # The node answers a string number with 1008 "Not a number".
            _fail(name, f"expected an int, got {_describe(value)}")
        if value < minimum:
            _fail(name, f"must be >= {minimum}, got {_describe(value)}")
        if value > _MAX_INT:
            _fail(name, f"must fit in 256 bits, got {_describe(value)}")

    return check


def _api(*prefixes: str) -> _Check:
    """An API string under one of ``prefixes``, checksum and size checked."""
    wanted = " or ".join(prefix + "_" for prefix in prefixes)

    def check(name: str, value: object) -> None:
        if not isinstance(value, str) or value.partition("_")[0] not in prefixes:
            _fail(name, f"expected a {wanted} string, got {_describe(value)}")
        try:
            encoding.decode_prefixed(value)  # checksum and size
        except DecodingError as exc:
            _fail(name, str(exc))

    return check


def _text(max_bytes: int | None = None) -> _Check:
    def check(name: str, value: object) -> None:
        if not isinstance(value, str):
            _fail(name, f"expected a string, got {_describe(value)}")
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # lone surrogates have no UTF-8 form
            _fail(name, "not valid unicode text")
        if max_bytes is not None and size > max_bytes:
            _fail(name, f"at most {max_bytes} bytes of UTF-8, got {size}")

    return check


def _one_of(choices: tuple[str, ...]) -> _Check:
    def check(name: str, value: object) -> None:
        if not isinstance(value, str) or value not in choices:
            _fail(name, f"expected one of {', '.join(choices)}; got {_describe(value)}")

    return check


def _list(item: _Check) -> _Check:
    def check(name: str, value: object) -> None:
        if not isinstance(value, tuple):  # the converter made lists tuples; a str stays a str
            _fail(name, f"expected a list, got {_describe(value)}")
        for i, element in enumerate(value):
            item(f"{name}[{i}]", element)

    return check


_ACCOUNT: Final = _api("ak")
_CONTRACT: Final = _api("ct")
_BYTEARRAY: Final = _api("cb")  # contract code and call data
_BLOCK_HASH: Final = _api("kh", "mh")
_TX_HASH: Final = _api("th")
_AMOUNT: Final = _int(0)
_POSITIVE: Final = _int(1)
_META: Final = _list(_text())  # the node answers 1014 to anything else


# -- fields: the check, and the param name when it is not the field's -------------------------

_PARAM: Final = "param"


def _param_name(field: attrs.Attribute[Any]) -> str:
    name: str = field.metadata.get(_PARAM, field.name)
    return name


def _param_names(cls: type[Command]) -> tuple[tuple[str, str], ...]:
    """(attribute, param) of each field of a command class, worked out once per class."""
    names = _PARAM_NAMES.get(cls)
    if names is None:
        names = _PARAM_NAMES[cls] = tuple(
            (field.name, _param_name(field)) for field in attrs.fields(cls)
        )
    return names


_PARAM_NAMES: Final[dict[type[Command], tuple[tuple[str, str], ...]]] = {}


def _label(field: attrs.Attribute[Any]) -> str:
    """How errors name a field: ``amount``, or ``from_id (param "from")``."""
    param = _param_name(field)
    return field.name if param == field.name else f'{field.name} (param "{param}")'


def _validate(check: _Check, *, optional: bool = False) -> _Validator:
    def validator(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if value is None and optional:
            return
        check(_label(attribute), value)

    return validator


def _as_tuple(value: Sequence[str]) -> Sequence[str]:
    """Lists (as JSON gives them) become tuples, so a command stays frozen and hashable."""
    return tuple(value) if isinstance(value, (list, tuple)) else value


def _meta(param: str | None) -> dict[str, str]:
    return {} if param is None else {_PARAM: param}


def _required(check: _Check, param: str | None = None) -> dict[str, Any]:
    """``attrs.field(**_required(...))``: spelled out so type checkers see a required field."""
    return {"validator": _validate(check), "metadata": _meta(param)}


def _optional(check: _Check, param: str | None = None, *, sequence: bool = False) -> Any:
    """An optional param: None (the default) leaves it out of the request."""
    return attrs.field(
        default=None,
        converter=_as_tuple if sequence else None,
        validator=_validate(check, optional=True),
        metadata=_meta(param),
    )


# -- the commands -----------------------------------------------------------------------------

_C = TypeVar("_C", bound="Command")


@attrs.frozen(kw_only=True)
class Command:
    """A request to the node. Subclasses set ``METHOD`` and ``KIND`` and declare the params."""

    METHOD: ClassVar[str]
    KIND: ClassVar[CommandKind]
    # Params that are the same in every instance rather than fields (channels.system's action).
    FIXED_PARAMS: ClassVar[Mapping[str, str]] = {}
    # Whether the channel sends it with an id (and so gets "ok" or an error by id). A ping is
    # answered by the pong notification alone, so it goes without one.
    SENT_WITH_ID: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """The ``params`` object the node expects; optional params not given are left out."""
        params: dict[str, Any] = dict(self.FIXED_PARAMS)
        for name, param in _param_names(type(self)):
            value = getattr(self, name)
            if value is not None:
                params[param] = list(value) if isinstance(value, tuple) else value
        return params

    def request(self, id: rpc.RequestId | None = None) -> dict[str, Any]:
        """The whole request frame; without ``id`` a query's answer comes as a notification."""
        return rpc.build_request(self.METHOD, self.params(), id=id)

    @classmethod
    def from_params(cls: type[_C], params: Mapping[str, Any]) -> _C:
        """The command whose :meth:`params` are ``params``; refuses what it would not send."""
        if not isinstance(params, Mapping):
            _fail("params", f"expected an object, got {_describe(params)}")
        fields = {_param_name(field): field for field in attrs.fields(cls)}
        for key, value in params.items():
            if key in cls.FIXED_PARAMS:
                if value != cls.FIXED_PARAMS[key]:
                    _fail(key, f"expected {cls.FIXED_PARAMS[key]!r}, got {_describe(value)}")
            elif key not in fields:
                _fail(_describe(key), f"not a param of {cls.METHOD}")
            elif value is None:
                # We leave an absent optional param out; null would not be reproduced.
                _fail(_label(fields[key]), "null; leave an optional param out instead")
        for param, field in fields.items():
            if field.default is attrs.NOTHING and param not in params:
                _fail(_label(field), f"required by {cls.METHOD}, missing")
        return cls(
            **{field.name: params[param] for param, field in fields.items() if param in params}
        )


@attrs.frozen(kw_only=True)
class Transfer(Command):
    """``channels.update.new``: move ``amount`` off-chain; then ``channels.sign.update``."""

    METHOD: ClassVar[str] = "channels.update.new"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION

    from_id: str = attrs.field(**_required(_ACCOUNT, "from"))
    to_id: str = attrs.field(**_required(_ACCOUNT, "to"))
    amount: int = attrs.field(**_required(_AMOUNT))
    block_hash: str | None = _optional(_BLOCK_HASH)
    meta: Sequence[str] | None = _optional(_META, sequence=True)

    def __attrs_post_init__(self) -> None:
        if self.from_id == self.to_id:  # the node answers 1003 "Invalid pubkeys"
            _fail('to_id (param "to")', 'must differ from from_id (param "from")')


@attrs.frozen(kw_only=True)
class NewContract(Command):
    """``channels.update.new_contract``: create a contract off-chain; then ``sign.update``."""

    METHOD: ClassVar[str] = "channels.update.new_contract"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION

    vm_version: int = attrs.field(**_required(_AMOUNT))
    abi_version: int = attrs.field(**_required(_AMOUNT))
    deposit: int = attrs.field(**_required(_AMOUNT))
    code: str = attrs.field(**_required(_BYTEARRAY))
    call_data: str = attrs.field(**_required(_BYTEARRAY))
    block_hash: str | None = _optional(_BLOCK_HASH)
    meta: Sequence[str] | None = _optional(_META, sequence=True)

    @classmethod
    def from_call(
        cls,
        *,
        code: str,
        arguments: Sequence[Any] = (),
        deposit: int,
        vm_version: int,
        aci: Aci | None = None,
        block_hash: str | None = None,
        meta: Sequence[str] | None = None,
    ) -> NewContract:
        """A create of FATE ``code`` whose ``init`` call data is made from ``arguments``
        (Python values or their JSON form), checked against the types of the code's ``init``."""
        call_data = _call_data(_interface(code, aci), "init", arguments)
        return cls(
            vm_version=vm_version,
            abi_version=FATE_ABI_VERSION,
            deposit=deposit,
            code=code,
            call_data=call_data,
            block_hash=block_hash,
            meta=meta,
        )


def _interface(code: str | Interface, aci: Aci | None = None) -> Interface:
    if isinstance(code, Interface):
        return code
    try:
        return Interface.from_code(code, aci)
    except DecodingError as exc:
        raise LocalProtocolError(f"code: {exc}") from None


def _call_data(interface: Interface, function: str, arguments: Sequence[Any]) -> str:
    return encoding.encode("cb", interface.encode_call(function, arguments))


@attrs.frozen(kw_only=True)
class _ContractCall(Command):
    """What every contract call names: the contract, its ABI, the amount and the call data."""

    contract_id: str = attrs.field(**_required(_CONTRACT))
    abi_version: int = attrs.field(**_required(_AMOUNT))
    amount: int = attrs.field(**_required(_AMOUNT))
    call_data: str = attrs.field(**_required(_BYTEARRAY))


@attrs.frozen(kw_only=True)
class _OffChainCall(_ContractCall):
    block_hash: str | None = _optional(_BLOCK_HASH)
    meta: Sequence[str] | None = _optional(_META, sequence=True)


@attrs.frozen(kw_only=True)
class CallContract(_OffChainCall):
    """``channels.update.call_contract``: call a contract off-chain; then ``sign.update``.

    Off-chain the gas is 1_000_000 and the gas price 1; neither is a param.
    """

    METHOD: ClassVar[str] = "channels.update.call_contract"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION

    @classmethod
    def from_call(
        cls,
        *,
        contract_id: str,
        contract: str | Interface,
        function: str,
        arguments: Sequence[Any] = (),
        amount: int = 0,
        block_hash: str | None = None,
        meta: Sequence[str] | None = None,
    ) -> CallContract:
        """A call of ``function`` of the FATE contract ``contract_id`` (its code, or an
        :class:`~sansio_channels.fate.calldata.Interface` of it), with call data made from
        ``arguments`` checked against the function's types."""
        return cls(
            contract_id=contract_id,
            abi_version=FATE_ABI_VERSION,
            amount=amount,
            call_data=_call_data(_interface(contract), function, arguments),
            block_hash=block_hash,
            meta=meta,
        )


@attrs.frozen(kw_only=True)
class DryRunCallContract(_OffChainCall):
    """``channels.dry_run.call_contract``: the call object a call would give; no state change."""

    METHOD: ClassVar[str] = "channels.dry_run.call_contract"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY


@attrs.frozen(kw_only=True)
class _OnChain(Command):
    """The on-chain tx params; the FSM picks each one left out."""

    fee: int | None = _optional(_AMOUNT)
    gas_price: int | None = _optional(_AMOUNT)
    nonce: int | None = _optional(_AMOUNT)


@attrs.frozen(kw_only=True)
class _Funding(_OnChain):
    # 0 fails the FSM's guard (-32603), so only positive amounts are sent.
    amount: int = attrs.field(**_required(_POSITIVE))
    block_hash: str | None = _optional(_BLOCK_HASH)
    meta: Sequence[str] | None = _optional(_META, sequence=True)


@attrs.frozen(kw_only=True)
class Deposit(_Funding):
    """``channels.deposit``: add on-chain funds; then ``channels.sign.deposit_tx``."""

    METHOD: ClassVar[str] = "channels.deposit"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class Withdraw(_Funding):
    """``channels.withdraw``: take funds on-chain; then ``channels.sign.withdraw_tx``."""

    METHOD: ClassVar[str] = "channels.withdraw"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class Shutdown(_OnChain):
    """``channels.shutdown``: close mutually; no ``block_hash``, whatever the docs say."""

    METHOD: ClassVar[str] = "channels.shutdown"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class CloseSolo(_OnChain):
    """``channels.close_solo``: close alone with our latest state; then ``close_solo_sign``."""

    METHOD: ClassVar[str] = "channels.close_solo"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class Slash(_OnChain):
    """``channels.slash``: answer an older state on chain (``channel_closing`` only)."""

    METHOD: ClassVar[str] = "channels.slash"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class Settle(_OnChain):
    """``channels.settle``: settle; before the lock period ends the FSM holds the tx back."""

    METHOD: ClassVar[str] = "channels.settle"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class SnapshotSolo(_OnChain):
    """``channels.snapshot_solo``: put our latest off-chain state on chain."""

    METHOD: ClassVar[str] = "channels.snapshot_solo"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION


@attrs.frozen(kw_only=True)
class ForceProgress(_ContractCall):
    """``channels.force_progress``: make a contract call on chain alone.

    ``gas_price`` is required here and ``fee`` is not accepted; the node's
    default gas is 1_000_000.
    """

    METHOD: ClassVar[str] = "channels.force_progress"
    KIND: ClassVar[CommandKind] = CommandKind.OPERATION

    gas_price: int = attrs.field(**_required(_AMOUNT))
    gas: int | None = _optional(_AMOUNT)
    nonce: int | None = _optional(_AMOUNT)


@attrs.frozen(kw_only=True)
class Leave(Command):
    """``channels.leave``: both FSMs stop and keep the state for a later reestablish."""

    METHOD: ClassVar[str] = "channels.leave"
    KIND: ClassVar[CommandKind] = CommandKind.NOTICE


@attrs.frozen(kw_only=True)
class Message(Command):
    """``channels.message``: a generic message to the peer (``to`` must be the peer unless
    ``msg_forwarding`` is on); ``info`` is at most :data:`MAX_MESSAGE_BYTES` of UTF-8."""

    METHOD: ClassVar[str] = "channels.message"
    KIND: ClassVar[CommandKind] = CommandKind.NOTICE

    to_id: str = attrs.field(**_required(_ACCOUNT, "to"))
    info: str = attrs.field(**_required(_text(MAX_MESSAGE_BYTES)))
    from_id: str | None = _optional(_ACCOUNT, "from")


@attrs.frozen(kw_only=True)
class GetBalances(Command):
    """``channels.get.balances``: balances of these accounts; unknown ones are left out."""

    METHOD: ClassVar[str] = "channels.get.balances"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY

    accounts: Sequence[str] = attrs.field(converter=_as_tuple, **_required(_list(_ACCOUNT)))


@attrs.frozen(kw_only=True)
class GetOffchainState(Command):
    """``channels.get.offchain_state``: trees, calls, latest txs; needs ``params: {}``."""

    METHOD: ClassVar[str] = "channels.get.offchain_state"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY


@attrs.frozen(kw_only=True)
class GetContract(Command):
    """``channels.get.contract``: a contract object and its store."""

    METHOD: ClassVar[str] = "channels.get.contract"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY

    pubkey: str = attrs.field(**_required(_CONTRACT))


@attrs.frozen(kw_only=True)
class GetContractCall(Command):
    """``channels.get.contract_call``: the call object of ``caller_id``'s call in ``round``."""

    METHOD: ClassVar[str] = "channels.get.contract_call"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY

    contract_id: str = attrs.field(**_required(_CONTRACT))
    caller_id: str = attrs.field(**_required(_ACCOUNT))
    round: int = attrs.field(**_required(_AMOUNT))


@attrs.frozen(kw_only=True)
class GetPoi(Command):
    """``channels.get.poi``: a proof of inclusion; contracts also add their account."""

    METHOD: ClassVar[str] = "channels.get.poi"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY

    accounts: Sequence[str] | None = _optional(_list(_ACCOUNT), sequence=True)
    contracts: Sequence[str] | None = _optional(_list(_CONTRACT), sequence=True)


@attrs.frozen(kw_only=True)
class CleanContractCalls(Command):
    """``channels.clean_contract_calls``: prune the FSM's call results (``calls_pruned``)."""

    METHOD: ClassVar[str] = "channels.clean_contract_calls"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY


@attrs.frozen(kw_only=True)
class FetchHistory(Command):
    """``channels.history.fetch``: the FSM's recent events (window size ``log_keep``)."""

    METHOD: ClassVar[str] = "channels.history.fetch"
    KIND: ClassVar[CommandKind] = CommandKind.QUERY

    n: int | None = _optional(_AMOUNT)
    types: Sequence[str] | None = _optional(_list(_one_of(HISTORY_TYPES)), "type", sequence=True)
    tags: Sequence[str] | None = _optional(_list(_one_of(HISTORY_TAGS)), "tag", sequence=True)


@attrs.frozen(kw_only=True)
class AssumeMinimumDepth(Command):
    """``channels.assume_minimum_depth``: treat ``tx_hash`` as deep enough.

    Only while the FSM waits for that exact tx; both sides must send it.
    """

    METHOD: ClassVar[str] = "channels.assume_minimum_depth"
    KIND: ClassVar[CommandKind] = CommandKind.NOTICE

    tx_hash: str = attrs.field(**_required(_TX_HASH))


@attrs.frozen(kw_only=True)
class Ping(Command):
    """``channels.system {action: ping}``: the socket handler answers ``channels.system.pong``.

    It does not reach the FSM, so it does not reset the FSM's idle timer.
    """

    METHOD: ClassVar[str] = "channels.system"
    KIND: ClassVar[CommandKind] = CommandKind.NOTICE
    FIXED_PARAMS: ClassVar[Mapping[str, str]] = {"action": "ping"}
    SENT_WITH_ID: ClassVar[bool] = False


@attrs.frozen(kw_only=True)
class StopFsm(Command):
    """``channels.system {action: stop}``: **kills the node's FSM** for this channel.

    Undocumented; only the node's own test suite sends it. An application never needs it.
    """

    METHOD: ClassVar[str] = "channels.system"
    KIND: ClassVar[CommandKind] = CommandKind.NOTICE
    FIXED_PARAMS: ClassVar[Mapping[str, str]] = {"action": "stop"}


# -- reading a request frame back -------------------------------------------------------------

# Every command class, taken from __all__ so that a new one cannot be left out here.
_CLASSES: Final[list[type[Command]]] = [
    cls
    for name in __all__
    if isinstance(cls := globals().get(name), type)
    and issubclass(cls, Command)
    and cls is not Command
]
_BY_METHOD: Final = {cls.METHOD: cls for cls in _CLASSES if not cls.FIXED_PARAMS}
_BY_ACTION: Final = {cls.FIXED_PARAMS["action"]: cls for cls in _CLASSES if cls.FIXED_PARAMS}


def command_from_frame(frame: Mapping[str, Any]) -> Command:
    """The command a client → node request frame holds (its ``id``, if any, aside).

    Every param goes through the command's checks; a frame the typed API would not send as it
    stands (an unknown method or param, a string amount, a null, no ``params``) raises
    :class:`LocalProtocolError`.
    """
    if not isinstance(frame, Mapping):
        _fail("frame", f"expected a JSON-RPC request object, got {_describe(frame)}")
    jsonrpc = frame.get("jsonrpc")
    if not isinstance(jsonrpc, str) or jsonrpc != rpc.JSONRPC_VERSION:
        # The node drops such a frame silently.
        _fail("jsonrpc", f'must be "2.0", got {_describe(jsonrpc)}')
    method = frame.get("method")
    if not isinstance(method, str):
        _fail("method", f"expected a string, got {_describe(method)}")
    if "params" not in frame:
        _fail("params", "missing (the typed API always sends them)")
    params = frame["params"]
    if not isinstance(params, Mapping):
        _fail("params", f"expected an object, got {_describe(params)}")
    if method == Ping.METHOD:
        action = params.get("action")
        cls = _BY_ACTION.get(action) if isinstance(action, str) else None
        if cls is None:
            _fail("action", f"expected one of {', '.join(_BY_ACTION)}; got {_describe(action)}")
        return cls.from_params(params)
    command = _BY_METHOD.get(method)
    if command is None:
        if rpc.sign_tag_for_reply(method) is not None:
            _fail("method", f"{_describe(method)} is a sign reply, not a command")
        _fail("method", f"unknown method {_describe(method)}")
    return command.from_params(params)
