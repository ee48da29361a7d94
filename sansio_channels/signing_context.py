"""What the channel knows when it checks a sign request: the context the checks read.

The channel's ledger builds a :class:`SigningContext` for every request: our account and the
peer's, the channel id, the open options, the latest co-signed state, the rounds we signed, and
our own operation under way (:class:`PendingOperation`), so the checks stay pure functions.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from . import txs as t
from .codec import ChainObject
from .encoding import Id, IdTag
from .errors import DecodingError, LocalProtocolError
from .fate.calldata import DecodedCall
from .fate.describe import UpdateCall, describe_update
from .fees import FeePolicy
from .offchain import OffChainState
from .operations import OperationKind
from .options import OpenOptions, Role

__all__ = [
    "LatestState",
    "OperationKind",
    "PendingOperation",
    "SigningContext",
    "decoded_calls",
    "named_participants",
]


def _is(*kinds: type) -> Callable[[Any, attrs.Attribute[Any], Any], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, kinds):
            names = " or ".join(kind.__name__ for kind in kinds)
            raise LocalProtocolError(f"{attribute.name}: {names} required")

    return check


_NONE = type(None)


def _opt_uint(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise LocalProtocolError(f"{attribute.name}: a non-negative int or None is required")


def _uint() -> Any:
    return attrs.field(default=None, validator=_opt_uint)


@attrs.frozen(kw_only=True)
class PendingOperation:
    """Our own operation that the node is to ask us to sign, with what we asked for.

    A value is None where we did not set it (the node picks it, so it is not compared);
    ``meta`` is what we sent as ``meta`` (none: no meta updates are expected). Deposits,
    withdrawals, contracts and solo txs are our account's: that is checked without ``from_id``.
    """

    kind: OperationKind = attrs.field(converter=OperationKind)
    from_id: Id | None = attrs.field(default=None, validator=_is(Id, _NONE))
    to_id: Id | None = attrs.field(default=None, validator=_is(Id, _NONE))
    amount: int | None = _uint()
    fee: int | None = _uint()
    nonce: int | None = _uint()
    gas_price: int | None = _uint()
    gas: int | None = _uint()
    contract_id: Id | None = attrs.field(default=None, validator=_is(Id, _NONE))
    vm_version: int | None = _uint()
    abi_version: int | None = _uint()
    code: bytes | None = attrs.field(default=None, validator=_is(bytes, _NONE))
    deposit: int | None = _uint()
    call_data: bytes | None = attrs.field(default=None, validator=_is(bytes, _NONE))
    # The function and arguments the call data was made from, when we gave the typed form.
    call: DecodedCall | None = attrs.field(default=None, validator=_is(DecodedCall, _NONE))
    meta: tuple[bytes, ...] = attrs.field(default=(), converter=tuple)


@attrs.frozen(kw_only=True)
class LatestState:
    """Our latest co-signed state: its round (None if unknown), its signed tx (None if not at
    hand) and the balances in it."""

    round: int | None
    signed_tx: t.SignedTx | None
    state: OffChainState


def _rounds(value: Mapping[int, bytes]) -> Mapping[int, bytes]:
    if not isinstance(value, Mapping):
        raise LocalProtocolError("signed_rounds: a mapping of round -> inner tx bytes is required")
    return types.MappingProxyType(dict(value))


def _contracts(value: Mapping[str, bytes]) -> Mapping[str, bytes]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, bytes) for k, v in value.items()
    ):
        raise LocalProtocolError("contracts: a mapping of ct_ id -> contract code bytes")
    return types.MappingProxyType(dict(value))


def _known(value: Mapping[bytes, Mapping[bytes, Id]]) -> Mapping[bytes, Mapping[bytes, Id]]:
    if not isinstance(value, Mapping) or not all(
        isinstance(signers, Mapping) and all(isinstance(who, Id) for who in signers.values())
        for signers in value.values()
    ):
        raise LocalProtocolError("known_signers: a mapping of tx bytes -> {signature: Id}")
    return types.MappingProxyType(dict(value))


_set = object.__setattr__  # how a frozen attrs instance is filled in without its __init__


@attrs.frozen(kw_only=True)
class SigningContext:
    """What the channel knows when a sign request or a co-signed state arrives.

    ``peer`` is None until known (a responder opened with ``initiator_id=any``), and so is
    ``channel_id`` before the open has named it; ``latest`` is None before the first state is
    co-signed. ``signed_rounds`` maps each round we signed to the inner tx bytes we signed, so
    a second, different state for that round is caught; after a ``channels.conflict`` the node
    reuses the cancelled rounds, so the channel drops them from here (the peer may still hold
    our signature on a cancelled state: that is the protocol's, not ours to fix). ``pending``
    is our own operation, if one is under way. ``known_signers`` maps the inner tx bytes of
    a state we signed to who made each signature over it that is known valid (verified when
    its request was checked, or made by us), so a co-signed state costs one verification.
    ``fee_policy`` bounds every fee, gas and gas price the node chose. ``contracts`` holds
    the code of every contract a co-signed state created, by ``ct_`` id, so that a call to
    one decodes.
    """

    network_id: str = attrs.field(validator=_is(str))
    role: Role = attrs.field(validator=_is(Role))
    account: Id = attrs.field(validator=_is(Id))
    peer: Id | None = attrs.field(default=None, validator=_is(Id, _NONE))
    channel_id: Id | None = attrs.field(default=None, validator=_is(Id, _NONE))
    options: OpenOptions | None = attrs.field(default=None, validator=_is(OpenOptions, _NONE))
    latest: LatestState | None = attrs.field(default=None, validator=_is(LatestState, _NONE))
    signed_rounds: Mapping[int, bytes] = attrs.field(factory=dict, converter=_rounds, hash=False)
    pending: PendingOperation | None = attrs.field(
        default=None, validator=_is(PendingOperation, _NONE)
    )
    known_signers: Mapping[bytes, Mapping[bytes, Id]] = attrs.field(
        factory=dict, converter=_known, hash=False
    )
    fee_policy: FeePolicy = attrs.field(factory=FeePolicy, validator=_is(FeePolicy))
    contracts: Mapping[str, bytes] = attrs.field(factory=dict, converter=_contracts, hash=False)

    @classmethod
    def of_ledger(
        cls,
        *,
        network_id: str,
        role: Role,
        account: Id,
        peer: Id | None,
        channel_id: Id | None,
        options: OpenOptions | None,
        latest: LatestState | None,
        signed_rounds: dict[int, bytes],
        pending: PendingOperation | None,
        known_signers: dict[bytes, Mapping[bytes, Id]],
        fee_policy: FeePolicy,
        contracts: Mapping[str, bytes],
        named: tuple[Id, ...] | None = None,
    ) -> SigningContext:
        """The same context as the plain constructor gives, from the ledger's own values.

        They are of the types the fields name by construction (the channel's and the ledger's
        own, typed), so the per-field validators are skipped: built for every request and
        co-signed state, they were most of the context's cost. The two fresh dicts are wrapped
        read-only as the converters would (their copies are not needed: nobody else holds them);
        ``contracts`` is the ledger's own read-only view.
        Built through the validating constructor instead, an own transfer costs about 6 %
        more in ``bench/run.py`` (own_transfer_ratio 3.91 against 3.70, acknowledged 3.46
        against 3.19: medians of three alternating runs, docs/performance.md), above the 5 %
        the project allows a construction through the fields' slots: so this one stays.
        ``named``: the participants :func:`named_participants` gives for these values, when
        the ledger kept them from an earlier context (the same until the peer or the latest
        state's participants change).
        """
        context = object.__new__(cls)
        _set_network_id(context, network_id)
        _set_role(context, role)
        _set_account(context, account)
        _set_peer(context, peer)
        _set_channel_id(context, channel_id)
        _set_options(context, options)
        _set_latest(context, latest)
        _set_signed_rounds(context, types.MappingProxyType(signed_rounds))
        _set_pending(context, pending)
        _set_known_signers(context, types.MappingProxyType(known_signers))
        _set_fee_policy(context, fee_policy)
        _set_contracts(context, contracts)
        if named is not None:
            _set(context, "_named", named)
        return context

    def participants(self, tx: ChainObject | None = None) -> list[Id]:
        """Every participant we can name, each once: us first, the peer, the latest state's, a
        create tx's."""
        found = self._named
        if isinstance(tx, t.CREATE_TXS):
            return list(dict.fromkeys([*found, tx.initiator_id, tx.responder_id]))
        return list(found)

    @functools.cached_property
    def _named(self) -> tuple[Id, ...]:
        # Asked for by several checks of one request: worked out once.
        return named_participants(self.account, self.peer, self.latest)

    def peer_of(self, tx: ChainObject | None = None) -> Id | None:
        others = self.participants(tx)[1:]  # we come first, and once
        return others[0] if len(others) == 1 else self.peer

    def calls(self, updates: tuple[t.OffChainUpdate, ...]) -> tuple[UpdateCall | None, ...]:
        """What each update calls, for the sign request (:func:`decoded_calls`)."""
        return decoded_calls(updates, self.contracts)


def decoded_calls(
    updates: tuple[t.OffChainUpdate, ...], contracts: Mapping[str, bytes]
) -> tuple[UpdateCall | None, ...]:
    """One entry per update: the decoded call of a create or call update, or None (another
    update, a contract whose code is not in ``contracts``, or code or call data that no FATE
    VM would run: the ``contract_call`` check says which)."""
    return tuple(_decoded(update, contracts) for update in updates)


def _decoded(update: t.OffChainUpdate, contracts: Mapping[str, bytes]) -> UpdateCall | None:
    try:
        return describe_update(update, contracts)
    except DecodingError:
        return None


# Each field's slot, filled in by of_ledger: the slot's own setter is the quickest way in.
(
    _set_network_id,
    _set_role,
    _set_account,
    _set_peer,
    _set_channel_id,
    _set_options,
    _set_latest,
    _set_signed_rounds,
    _set_pending,
    _set_known_signers,
    _set_fee_policy,
    _set_contracts,
) = (
    SigningContext.__dict__[name].__set__
    for name in (
        *("network_id", "role", "account", "peer", "channel_id", "options", "latest"),
        *("signed_rounds", "pending", "known_signers", "fee_policy", "contracts"),
    )
)


def named_participants(account: Id, peer: Id | None, latest: LatestState | None) -> tuple[Id, ...]:
    """Us, the peer if known, and the latest state's participants: each once, in that order."""
    found = [account, *([peer] if peer else [])]
    if latest is not None:
        named = {who.key: who for who in found}  # usually us and the peer again
        keys = latest.state.participants
        found += [named.get(key) or Id(IdTag.ACCOUNT, key) for key in keys]
    return tuple(dict.fromkeys(found))
