"""The chain objects a channel client meets, with their exact wire formats.

One frozen class per (tag, version): the signed tx wrapper, every channel tx in every version
in use, the off-chain updates and the generalized-account meta tx. The field order of each
class *is* its serialization order. ``tx_`` strings go in with :func:`decode_tx` and out
with :func:`encode_tx`.
"""

from __future__ import annotations

from typing import ClassVar, Final, TypeAlias

import attrs

from . import encoding
from .codec import (
    ChainObject,
    FieldCodec,
    bytes_field,
    deserialize,
    encode_int,
    id_field,
    ids_field,
    int_field,
    ints_field,
    object_field,
    objects_field,
    register,
    rlp_bytes,
    rlp_list,
    signatures_field,
)
from .encoding import Id, IdTag
from .errors import DecodingError

__all__ = [
    "CREATE_TXS",
    "ChannelCloseMutualTx",
    "ChannelCloseSoloTx",
    "ChannelCreateTx",
    "ChannelCreateTxV1",
    "ChannelDepositTx",
    "ChannelForceProgressTx",
    "ChannelOffChainTx",
    "ChannelOffChainTxV1",
    "ChannelSetDelegatesTx",
    "ChannelSettleTx",
    "ChannelSlashTx",
    "ChannelSnapshotSoloTx",
    "ChannelWithdrawTx",
    "GAMetaTx",
    "GAMetaTxV1",
    "OffChainCallContract",
    "OffChainDeposit",
    "OffChainMeta",
    "OffChainNewContract",
    "OffChainTransfer",
    "OffChainUpdate",
    "OffChainWithdrawal",
    "SignedTx",
    "decode_tx",
    "encode_tx",
    "signed_tx_of",
]

ACCOUNT, CHANNEL, CONTRACT = IdTag.ACCOUNT, IdTag.CHANNEL, IdTag.CONTRACT

_SIGNED_TX = "signed_tx"
_CALL_CONTRACT = "channel_offchain_update_call_contract"


@register
@attrs.frozen(kw_only=True)
class SignedTx(ChainObject):
    """A tx with the signatures over it, kept sorted byte-wise as the node keeps them."""

    TAG: ClassVar[int] = 11
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = _SIGNED_TX
    signatures: tuple[bytes, ...] = signatures_field()
    transaction: ChainObject = object_field()


# --- channel txs ----------------------------------------------------------------------


@register
@attrs.frozen(kw_only=True)
class ChannelCreateTxV1(ChainObject):
    """The create tx valid before Iris (one delegate list)."""

    TAG: ClassVar[int] = 50
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_create_tx"
    initiator_id: Id = id_field(ACCOUNT)
    initiator_amount: int = int_field()
    responder_id: Id = id_field(ACCOUNT)
    responder_amount: int = int_field()
    channel_reserve: int = int_field()
    lock_period: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    delegate_ids: tuple[Id, ...] = ids_field(ACCOUNT)
    state_hash: bytes = bytes_field("st", 32)
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelCreateTx(ChainObject):
    """The create tx from Iris on (a delegate list per participant); required today."""

    TAG: ClassVar[int] = 50
    VERSION: ClassVar[int] = 2
    TYPE: ClassVar[str] = "channel_create_tx"
    initiator_id: Id = id_field(ACCOUNT)
    initiator_amount: int = int_field()
    responder_id: Id = id_field(ACCOUNT)
    responder_amount: int = int_field()
    channel_reserve: int = int_field()
    lock_period: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    initiator_delegate_ids: tuple[Id, ...] = ids_field(ACCOUNT)
    responder_delegate_ids: tuple[Id, ...] = ids_field(ACCOUNT)
    state_hash: bytes = bytes_field("st", 32)
    nonce: int = int_field()


# Both versions of the create tx: a check that asks "is this the create tx?" asks of either.
CREATE_TXS: Final = (ChannelCreateTx, ChannelCreateTxV1)


@register
@attrs.frozen(kw_only=True)
class ChannelDepositTx(ChainObject):
    TAG: ClassVar[int] = 51
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_deposit_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    amount: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    state_hash: bytes = bytes_field("st", 32)
    round: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelWithdrawTx(ChainObject):
    TAG: ClassVar[int] = 52
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_withdraw_tx"
    channel_id: Id = id_field(CHANNEL)
    to_id: Id = id_field(ACCOUNT)
    amount: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    state_hash: bytes = bytes_field("st", 32)
    round: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelForceProgressTx(ChainObject):
    TAG: ClassVar[int] = 521
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_force_progress_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    payload: SignedTx | None = object_field(_SIGNED_TX, optional=True)
    round: int = int_field()
    update: OffChainCallContract = object_field(_CALL_CONTRACT)
    state_hash: bytes = bytes_field("st", 32)
    offchain_trees: bytes = bytes_field("ss")
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelCloseMutualTx(ChainObject):
    TAG: ClassVar[int] = 53
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_close_mutual_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    initiator_amount_final: int = int_field()
    responder_amount_final: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelCloseSoloTx(ChainObject):
    """Solo close; an empty payload means "the latest state already on chain"."""

    TAG: ClassVar[int] = 54
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_close_solo_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    payload: SignedTx | None = object_field(_SIGNED_TX, optional=True)
    poi: bytes = bytes_field("pi")
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelSlashTx(ChainObject):
    TAG: ClassVar[int] = 55
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_slash_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    payload: SignedTx | None = object_field(_SIGNED_TX, optional=True)
    poi: bytes = bytes_field("pi")
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelSettleTx(ChainObject):
    TAG: ClassVar[int] = 56
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_settle_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    initiator_amount_final: int = int_field()
    responder_amount_final: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelOffChainTxV1(ChainObject):
    """The off-chain tx before Fortuna, with the updates inside (invalid from Lima)."""

    TAG: ClassVar[int] = 57
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_offchain_tx"
    channel_id: Id = id_field(CHANNEL)
    round: int = int_field()
    updates: tuple[OffChainUpdate, ...] = objects_field()
    state_hash: bytes = bytes_field("st", 32)


@register
@attrs.frozen(kw_only=True)
class ChannelOffChainTx(ChainObject):
    """The off-chain state; its updates travel beside it, not inside."""

    TAG: ClassVar[int] = 57
    VERSION: ClassVar[int] = 2
    TYPE: ClassVar[str] = "channel_offchain_tx"
    channel_id: Id = id_field(CHANNEL)
    round: int = int_field()
    state_hash: bytes = bytes_field("st", 32)


@register
@attrs.frozen(kw_only=True)
class ChannelSnapshotSoloTx(ChainObject):
    TAG: ClassVar[int] = 59
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_snapshot_solo_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    payload: SignedTx = object_field(_SIGNED_TX)
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


@register
@attrs.frozen(kw_only=True)
class ChannelSetDelegatesTx(ChainObject):
    TAG: ClassVar[int] = 501
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_set_delegates_tx"
    channel_id: Id = id_field(CHANNEL)
    from_id: Id = id_field(ACCOUNT)
    initiator_delegate_ids: tuple[Id, ...] = ids_field(ACCOUNT)
    responder_delegate_ids: tuple[Id, ...] = ids_field(ACCOUNT)
    payload: SignedTx | None = object_field(_SIGNED_TX, optional=True)
    state_hash: bytes = bytes_field("st", 32)
    round: int = int_field()
    ttl: int = int_field()
    fee: int = int_field()
    nonce: int = int_field()


# --- off-chain updates ----------------------------------------------------------------


@register
@attrs.frozen(kw_only=True)
class OffChainTransfer(ChainObject):
    TAG: ClassVar[int] = 570
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_offchain_update_transfer"
    from_id: Id = id_field(ACCOUNT)
    to_id: Id = id_field(ACCOUNT)
    amount: int = int_field()


@register
@attrs.frozen(kw_only=True)
class OffChainDeposit(ChainObject):
    TAG: ClassVar[int] = 571
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_offchain_update_deposit"
    from_id: Id = id_field(ACCOUNT)
    amount: int = int_field()


@register
@attrs.frozen(kw_only=True)
class OffChainWithdrawal(ChainObject):
    TAG: ClassVar[int] = 572
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_offchain_update_withdraw"
    to_id: Id = id_field(ACCOUNT)
    amount: int = int_field()


@register
@attrs.frozen(kw_only=True)
class OffChainNewContract(ChainObject):
    """Contract create; ``ct_version`` is ``vm << 16 | abi`` (just ``abi`` for legacy vm=abi<=2)."""

    TAG: ClassVar[int] = 573
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channel_offchain_update_create_contract"
    owner_id: Id = id_field(ACCOUNT)
    ct_version: int = int_field()
    code: bytes = bytes_field("cb")
    deposit: int = int_field()
    call_data: bytes = bytes_field("cb")


@register
@attrs.frozen(kw_only=True)
class OffChainCallContract(ChainObject):
    """Contract call, in the node's field order (which differs from the older spec text)."""

    TAG: ClassVar[int] = 574
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = _CALL_CONTRACT
    caller_id: Id = id_field(ACCOUNT)
    contract_id: Id = id_field(CONTRACT)
    abi_version: int = int_field()
    amount: int = int_field()
    gas: int = int_field()
    gas_price: int = int_field()
    call_data: bytes = bytes_field("cb")
    call_stack: tuple[int, ...] = ints_field()


@register
@attrs.frozen(kw_only=True)
class OffChainMeta(ChainObject):
    """Free data that rides along with an update and does not enter the state hash."""

    TAG: ClassVar[int] = 576
    VERSION: ClassVar[int] = 2
    TYPE: ClassVar[str] = "channel_offchain_update_meta"
    data: bytes = bytes_field("ba")


OffChainUpdate: TypeAlias = (
    OffChainTransfer
    | OffChainDeposit
    | OffChainWithdrawal
    | OffChainNewContract
    | OffChainCallContract
    | OffChainMeta
)


# --- generalized accounts -------------------------------------------------------------


@register
@attrs.frozen(kw_only=True)
class GAMetaTxV1(ChainObject):
    TAG: ClassVar[int] = 81
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "ga_meta_tx"
    ga_id: Id = id_field(ACCOUNT)
    auth_data: bytes = bytes_field("cb")
    abi_version: int = int_field()
    fee: int = int_field()
    gas: int = int_field()
    gas_price: int = int_field()
    ttl: int = int_field()
    tx: SignedTx = object_field(_SIGNED_TX)


@register
@attrs.frozen(kw_only=True)
class GAMetaTx(ChainObject):
    """The generalized-account meta tx from Iris on (no ttl)."""

    TAG: ClassVar[int] = 81
    VERSION: ClassVar[int] = 2
    TYPE: ClassVar[str] = "ga_meta_tx"
    ga_id: Id = id_field(ACCOUNT)
    auth_data: bytes = bytes_field("cb")
    abi_version: int = int_field()
    fee: int = int_field()
    gas: int = int_field()
    gas_price: int = int_field()
    tx: SignedTx = object_field(_SIGNED_TX)


# --- tx_ strings ----------------------------------------------------------------------


def decode_tx(text: str) -> ChainObject:
    """Decode a ``tx_...`` string into its chain object (usually a :class:`SignedTx`)."""
    payload = encoding.decode(text, "tx")
    signed = _read_signed_tx(payload)
    return signed if signed is not None else _deserialize(text, payload)


def decode_signed_tx(text: str) -> SignedTx:
    """Decode a ``tx_...`` string that must hold a signed tx."""
    payload = encoding.decode(text, "tx")
    signed = _read_signed_tx(payload)
    if signed is not None:
        return signed
    obj = _deserialize(text, payload)
    if not isinstance(obj, SignedTx):
        raise DecodingError(f"{encoding.short(text)!r}: expected a signed_tx, got {obj.TYPE}")
    return obj


def _deserialize(text: str, payload: bytes) -> ChainObject:
    try:
        return deserialize(payload, "tx")
    except DecodingError as exc:
        raise DecodingError(f"{encoding.short(text)!r}: {exc}") from None


def _read_signed_tx(payload: bytes) -> SignedTx | None:
    """The signed tx ``payload`` holds when it has the usual shape, read by position: a list
    with a long head, 64-byte signatures, a tx with a long head. None for anything else,
    which the general decoder then takes (and refuses, with its reasons, if it must).

    Each transfer reads a signed tx or two, and the general decoder's walk item by item and
    field by field was most of the cost of reading one. What is read here is what the general
    decoder gives: every head is checked to be in its shortest form and every length to add up.
    """
    try:
        outer = _long_item(payload, 0, _LIST_HEAD)
        if outer is None or outer[1] != len(payload):
            return None
        position = outer[0] + len(_SIGNED_TX_HEAD)
        if payload[outer[0] : position] != _SIGNED_TX_HEAD:
            return None
        if payload[position] == _EMPTY_LIST:
            position, count = position + 1, 0
        else:
            listed = _long_item(payload, position, _LIST_HEAD)
            if listed is None or (listed[1] - listed[0]) % _SIGNATURE_ITEM:
                return None
            position, count = listed[0], (listed[1] - listed[0]) // _SIGNATURE_ITEM
        signatures = []
        for _ in range(count):
            if payload[position : position + 2] != _SIGNATURE_HEAD:
                return None
            signatures.append(payload[position + 2 : position + _SIGNATURE_ITEM])
            position += _SIGNATURE_ITEM
        inner = _long_item(payload, position, _STRING_HEAD)
        if inner is None or inner[1] != len(payload):
            return None
        transaction = _TRANSACTION.decode(payload[inner[0] :], _TRANSACTION_WHERE)
    except (IndexError, DecodingError):  # cut short, or a bad tx: the general decoder says so
        return None
    # Its fields read and checked as the decoder checks them.
    return _signed_tx(tuple(signatures), transaction, payload)


def signed_tx_of(signatures: tuple[bytes, ...], transaction: ChainObject) -> SignedTx:
    """The :class:`SignedTx` of ``signatures`` (each 64 bytes, byte-sorted) over
    ``transaction``, for a caller that vouches for them (one checked signature added to a
    signed tx's). Built without the validating constructor and serialized as it is built, not
    field by field: the signed tx we send is serialized on every transfer."""
    signatures_rlp = rlp_list([rlp_bytes(signature) for signature in signatures])
    serialized = rlp_list([_SIGNED_TX_HEAD, signatures_rlp, rlp_bytes(transaction.serialize())])
    return _signed_tx(signatures, transaction, serialized)


def _signed_tx(
    signatures: tuple[bytes, ...], transaction: ChainObject, serialized: bytes
) -> SignedTx:
    # What the decoder builds too: the fields as they are, the bytes they serialize to kept.
    signed = object.__new__(SignedTx)
    object.__setattr__(signed, "signatures", signatures)
    object.__setattr__(signed, "transaction", transaction)
    object.__setattr__(signed, "_serialized", serialized)
    return signed


def _long_item(payload: bytes, position: int, head: int) -> tuple[int, int] | None:
    """Where the content of the item at ``position`` starts and ends, if it has a long head
    (``head`` + the size of its length) of one or two length bytes in their shortest form."""
    size = payload[position] - head
    if size == 1:
        start, length = position + 2, payload[position + 1]
        return (start, start + length) if length >= 56 else None
    if size == 2:
        start, length = position + 3, int.from_bytes(payload[position + 1 : position + 3], "big")
        return (start, start + length) if length >= 256 else None
    return None


_STRING_HEAD: Final = 0xB7  # + the size of the length: the head of a byte string of 56+ bytes
_LIST_HEAD: Final = 0xF7  # the same for a list
_EMPTY_LIST: Final = 0xC0
_SIGNED_TX_HEAD: Final = b"".join(
    rlp_bytes(encode_int(value)) for value in (SignedTx.TAG, SignedTx.VERSION)
)
_SIGNATURE_HEAD: Final = rlp_bytes(bytes(64))[:2]
_SIGNATURE_ITEM: Final = len(rlp_bytes(bytes(64)))
_TRANSACTION: Final[FieldCodec] = attrs.fields(SignedTx).transaction.metadata["codec"]
_TRANSACTION_WHERE: Final = f"{_SIGNED_TX}.transaction"


def encode_tx(obj: ChainObject) -> str:
    """The ``tx_...`` string of a chain object."""
    return encoding.encode("tx", obj.serialize())
