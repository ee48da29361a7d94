"""The channel's off-chain state trees and the state hash both parties sign.

Every channel tx that commits to a state (create, off-chain, deposit, withdraw, ...) carries a
``state_hash``: the node's ``aec_trees:hash/1`` over the six state trees (accounts, calls,
channels, contracts, name service, oracles), each a Merkle Patricia trie (:mod:`.mpt`). For a
channel that holds only accounts the hash follows from the participants' balances alone, so a
client can check what it signs: :func:`accounts_state_hash`.

When the channel holds contracts the other trees depend on VM execution, but the node hands
out the whole state as an ``ss_...`` string (``channels.get.offchain_state``), and the hash of
that can be checked: :class:`StateTrees`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final

import attrs

from . import encoding
from .codec import (
    ChainObject,
    bytes_field,
    deserialize,
    encode_int,
    id_field,
    int_field,
    object_field,
    objects_field,
    register,
    rlp_bytes,
    rlp_list,
)
from .crypto import blake2b_256
from .encoding import Id, IdTag
from .errors import DecodingError, LocalProtocolError
from .mpt import EMPTY_ROOT, HASH_SIZE, root_hash, sorted_root_hash

__all__ = [
    "HASH_ORDER",
    "STATE_HASH_VERSION",
    "Account",
    "AccountsMtree",
    "CallsMtree",
    "ChannelsMtree",
    "ContractsMtree",
    "FlaggedAccount",
    "GeneralizedAccount",
    "Mtree",
    "MtreeValue",
    "NameServiceMtree",
    "OraclesMtree",
    "StateTrees",
    "accounts_root",
    "accounts_state_hash",
    "decode_state_trees",
    "state_hash_of_roots",
]

# aec_trees.erl ?VERSION, the 8-byte big-endian prefix of the hashed roots.
STATE_HASH_VERSION: Final = 1
# The order aec_trees:hash/1 puts the roots in; the ss_ serialization uses another one.
HASH_ORDER: Final = ("accounts", "calls", "channels", "contracts", "ns", "oracles")
_PUBKEY_SIZE: Final = 32


# --- accounts (aec_accounts.erl) --------------------------------------------------------


@register
@attrs.frozen(kw_only=True)
class Account(ChainObject):
    """A plain account: no flags, no generalized-account contract. Every channel account is one.

    Off-chain transfers, deposits and withdrawals never bump the nonce, so in a channel it
    stays 0.
    """

    TAG: ClassVar[int] = 10
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "account"
    nonce: int = int_field()
    balance: int = int_field()


@register
@attrs.frozen(kw_only=True)
class GeneralizedAccount(ChainObject):
    """An account with an attached authentication contract (a generalized account)."""

    TAG: ClassVar[int] = 10
    VERSION: ClassVar[int] = 2
    TYPE: ClassVar[str] = "account"
    flags: int = int_field()
    nonce: int = int_field()
    balance: int = int_field()
    ga_contract: Id = id_field(IdTag.CONTRACT)
    ga_auth_fun: bytes = bytes_field("ba")


@register
@attrs.frozen(kw_only=True)
class FlaggedAccount(ChainObject):
    """An account with flags set and no generalized-account contract."""

    TAG: ClassVar[int] = 10
    VERSION: ClassVar[int] = 3
    TYPE: ClassVar[str] = "account"
    flags: int = int_field()
    nonce: int = int_field()
    balance: int = int_field()


_ACCOUNT_TYPES: Final = (Account, GeneralizedAccount, FlaggedAccount)


def _account_balance(value: bytes, where: str) -> int:
    account = deserialize(value, where)
    if not isinstance(account, _ACCOUNT_TYPES):
        raise DecodingError(f"{where}: expected an account, got {account.TYPE}")
    return account.balance


# --- serialized trees (aeu_mtrees, aec_trees) -------------------------------------------


@register
@attrs.frozen(kw_only=True)
class MtreeValue(ChainObject):
    """One entry of a serialized trie."""

    TAG: ClassVar[int] = 64
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "mtree_value"
    key: bytes = bytes_field("ba")
    val: bytes = bytes_field("ba")


@register
@attrs.frozen(kw_only=True)
class Mtree(ChainObject):
    """A whole trie as the list of its entries, from which its root can be rebuilt."""

    TAG: ClassVar[int] = 63
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "mtree"
    values: tuple[MtreeValue, ...] = objects_field("mtree_value")

    def check(self) -> None:
        """Refuse what no node's trie can hold: a key twice, or an empty value (b"" is the
        trie's "no value"). Such an mtree has no root.

        Not a constructor check, so that any list of entries can still be built and
        serialized; :meth:`StateTrees.from_bytes` and :meth:`root_hash` call it.
        """
        seen: set[bytes] = set()
        for entry in self.values:
            if entry.key in seen:
                raise DecodingError(f"mtree: key {entry.key.hex()} appears twice")
            if not entry.val:
                raise DecodingError(f"mtree: key {entry.key.hex()} has an empty value")
            seen.add(entry.key)

    def root_hash(self) -> bytes:
        """The trie's root hash, ``b""`` when it is empty."""
        self.check()
        return root_hash((entry.key, entry.val) for entry in self.values)


class _TreeObject(ChainObject):
    """The per-tree wrapper around a serialized mtree (tags 621-626)."""

    __slots__ = ()
    mtree: Mtree


@register
@attrs.frozen(kw_only=True)
class ContractsMtree(_TreeObject):
    """Contracts by pubkey, and their stores under ``pubkey ++ <<16>> ++ store key``."""

    TAG: ClassVar[int] = 621
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "contracts_mtree"
    mtree: Mtree = object_field("mtree")


@register
@attrs.frozen(kw_only=True)
class CallsMtree(_TreeObject):
    """Contract call results, under ``contract pubkey ++ call id`` (64-byte keys)."""

    TAG: ClassVar[int] = 622
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "calls_mtree"
    mtree: Mtree = object_field("mtree")


@register
@attrs.frozen(kw_only=True)
class ChannelsMtree(_TreeObject):
    TAG: ClassVar[int] = 623
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "channels_mtree"
    mtree: Mtree = object_field("mtree")


@register
@attrs.frozen(kw_only=True)
class NameServiceMtree(_TreeObject):
    TAG: ClassVar[int] = 624
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "nameservice_mtree"
    mtree: Mtree = object_field("mtree")


@register
@attrs.frozen(kw_only=True)
class OraclesMtree(_TreeObject):
    TAG: ClassVar[int] = 625
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "oracles_mtree"
    mtree: Mtree = object_field("mtree")


@register
@attrs.frozen(kw_only=True)
class AccountsMtree(_TreeObject):
    """Accounts (contract accounts too) by their 32-byte pubkey."""

    TAG: ClassVar[int] = 626
    VERSION: ClassVar[int] = 1
    TYPE: ClassVar[str] = "accounts_mtree"
    mtree: Mtree = object_field("mtree")

    def balances(self) -> dict[bytes, int]:
        """Each account's balance by pubkey; :class:`DecodingError` if an entry is no account."""
        self.mtree.check()
        found: dict[bytes, int] = {}
        for entry in self.mtree.values:
            where = f"accounts_mtree: account {entry.key.hex()}"
            if len(entry.key) != _PUBKEY_SIZE:
                raise DecodingError(f"{where}: an account key is 32 bytes, got {len(entry.key)}")
            found[entry.key] = _account_balance(entry.val, where)
        return found


@register
@attrs.frozen(kw_only=True)
class StateTrees(ChainObject):
    """The whole off-chain state, as ``channels.get.offchain_state`` gives it (``ss_...``).

    The serialization order of the trees is aec_trees' own (contracts first, accounts last);
    the state hash takes their roots in :data:`HASH_ORDER`.
    """

    TAG: ClassVar[int] = 62
    VERSION: ClassVar[int] = 0
    TYPE: ClassVar[str] = "state_trees"
    contracts_tree: ContractsMtree = object_field("contracts_mtree")
    calls_tree: CallsMtree = object_field("calls_mtree")
    channels_tree: ChannelsMtree = object_field("channels_mtree")
    ns_tree: NameServiceMtree = object_field("nameservice_mtree")
    oracles_tree: OraclesMtree = object_field("oracles_mtree")
    accounts_tree: AccountsMtree = object_field("accounts_mtree")

    @classmethod
    def from_bytes(cls, data: bytes) -> StateTrees:
        """Decode serialized state trees (the payload of an ``ss_`` string)."""
        obj = deserialize(data, "state_trees")
        if not isinstance(obj, StateTrees):
            raise DecodingError(f"expected state_trees, got {obj.TYPE}")
        obj.check()
        return obj

    def check(self) -> None:
        """Refuse trees that decode but are no node's state: see :meth:`Mtree.check`, and
        every entry of the accounts tree must be an account under a 32-byte key."""
        for tree in self._trees().values():
            tree.mtree.check()
        self.accounts_tree.balances()

    def _trees(self) -> dict[str, _TreeObject]:
        return {
            "accounts": self.accounts_tree,
            "calls": self.calls_tree,
            "channels": self.channels_tree,
            "contracts": self.contracts_tree,
            "ns": self.ns_tree,
            "oracles": self.oracles_tree,
        }

    @property
    def roots(self) -> dict[str, bytes]:
        """Each tree's root hash (``b""`` for an empty tree), in :data:`HASH_ORDER`."""
        trees = self._trees()
        return {name: trees[name].mtree.root_hash() for name in HASH_ORDER}

    def state_hash(self) -> bytes:
        """The 32-byte state hash that the channel txs for this state carry."""
        return state_hash_of_roots(self.roots)

    def contract_keys(self) -> set[bytes]:
        """The pubkeys of the contracts in the channel (each also has an account)."""
        return {entry.key for entry in self.contracts_tree.mtree.values if len(entry.key) == 32}

    def accounts(self) -> dict[bytes, int]:
        """Every account's balance by its 32-byte pubkey, contract accounts included."""
        return self.accounts_tree.balances()


def decode_state_trees(text: str) -> StateTrees:
    """Decode an ``ss_...`` string."""
    payload = encoding.decode(text, "ss")
    try:
        return StateTrees.from_bytes(payload)
    except DecodingError as exc:
        raise DecodingError(f"{encoding.short(text)!r}: {exc}") from None


# --- the state hash (aec_trees:hash/1) --------------------------------------------------


def state_hash_of_roots(roots: Mapping[str, bytes]) -> bytes:
    """The state hash of six tree roots named as in :data:`HASH_ORDER`.

    An empty tree (root ``b""``) counts as 32 zero bytes (aec_trees' ``pad_empty``).
    """
    if set(roots) != set(HASH_ORDER):
        raise LocalProtocolError(f"the roots of exactly {', '.join(HASH_ORDER)} are required")
    data = STATE_HASH_VERSION.to_bytes(8, "big")
    for name in HASH_ORDER:
        root = roots[name]
        if root == EMPTY_ROOT:
            root = bytes(HASH_SIZE)
        elif len(root) != HASH_SIZE:
            raise LocalProtocolError(f"the {name} root is not a 32-byte hash")
        data += root
    return blake2b_256(data)


def accounts_root(balances: Mapping[bytes, int]) -> bytes:
    """The accounts tree root of channel accounts (plain, nonce 0) with these balances."""
    for pubkey, balance in balances.items():
        if not isinstance(pubkey, bytes) or len(pubkey) != _PUBKEY_SIZE:
            raise LocalProtocolError("an account key is a 32-byte public key")
        if type(balance) is not int or balance < 0:
            raise LocalProtocolError(f"a balance is a non-negative int, got {balance!r}")
    keys = sorted(balances)  # distinct (a mapping's) and checked: no need for root_hash's checks
    return sorted_root_hash(keys, [channel_account(balances[key]) for key in keys])


def channel_account(balance: int) -> bytes:
    """``Account(nonce=0, balance=balance).serialize()``, without building and validating the
    object: the state hash is worked out for every update, and that was most of its cost."""
    return rlp_list([_CHANNEL_ACCOUNT_HEAD, rlp_bytes(encode_int(balance))])


# The RLP of the first three items: tag, version and nonce 0.
_CHANNEL_ACCOUNT_HEAD: Final = b"".join(
    rlp_bytes(encode_int(value)) for value in (Account.TAG, Account.VERSION, 0)
)


def accounts_state_hash(balances: Mapping[bytes, int]) -> bytes:
    """The state hash of a channel that holds only these accounts (pubkey -> balance).

    This is what the node puts into the create, off-chain, deposit and withdraw txs of a
    channel without contracts.
    """
    # state_hash_of_roots with the accounts root first and the five other trees empty.
    return blake2b_256(_ACCOUNTS_ONLY_HEAD + (accounts_root(balances) or _EMPTY_PAD) + _EMPTY_REST)


_ACCOUNTS_ONLY_HEAD: Final = STATE_HASH_VERSION.to_bytes(8, "big")
_EMPTY_PAD: Final = bytes(HASH_SIZE)
_EMPTY_REST: Final = _EMPTY_PAD * (len(HASH_ORDER) - 1)
