"""What the channel knows about its states: the latest co-signed one, and what we signed.

The ledger is the channel's memory for the checks (:mod:`.checks`): the latest co-signed state
with its round and balances, the inner tx we signed for each round not yet co-signed (so a
second, different state for that round is never signed), the sign request on offer, and the
code of every contract a co-signed state created. It turns that into the
:class:`~sansio_channels.checks.SigningContext` the checks read.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

import attrs

from . import crypto, encoding
from .checks import CheckReport, LatestState, PendingOperation, SigningContext
from .codec import ChainObject
from .encoding import Id
from .errors import ChannelError, LocalProtocolError
from .events import OffChainStateFetched, Operation
from .fate.describe import contract_codes, created_contract_id
from .fees import FeePolicy
from .node_data import api_balances
from .offchain import OffChainState
from .operations import Ends, operation_for_method, operation_for_tag
from .options import ConnectOptions, OpenOptions, Role
from .signing_context import named_participants
from .trees import StateTrees, decode_state_trees
from .txs import (
    CREATE_TXS,
    GAMetaTx,
    GAMetaTxV1,
    OffChainNewContract,
    OffChainUpdate,
    SignedTx,
    decode_signed_tx,
    encode_tx,
)

if TYPE_CHECKING:
    from .events import Operation
    from .record import ChannelRecord

__all__ = [
    "FetchedState",
    "Latest",
    "Ledger",
    "Participants",
    "SignedRound",
    "is_own_operation_tag",
    "round_of",
]


def round_of(tx: ChainObject) -> int | None:
    """The round a state tx commits to: a create tx opens round 1."""
    if isinstance(tx, CREATE_TXS):
        return 1
    value = getattr(tx, "round", None)
    return value if isinstance(value, int) else None


_NO_SIGNERS: Final[Mapping[bytes, Id]] = types.MappingProxyType({})
_NO_CONTRACTS: Final[Mapping[str, bytes]] = types.MappingProxyType({})


@attrs.frozen
class Participants:
    """Who takes part, as the channel knows it now: the network id our signatures are for,
    our role and account, and the peer (None until known)."""

    network_id: str
    role: Role
    account: Id
    peer: Id | None

    @classmethod
    def of(cls, options: ConnectOptions, *, network_id: str, account: str | None) -> Participants:
        """Who takes part in a channel opened or come back to with ``options``. Open options
        name both (the peer as "any" when a responder accepts any initiator, learnt from the
        create tx later); reestablish options name neither, so ``account`` is required."""
        if not isinstance(options, OpenOptions):
            if account is None:
                raise LocalProtocolError("account: required to reestablish from bare options")
            return cls(network_id, options.role, Id.account(account), None)
        own, peer = options.initiator_id, options.responder_id
        if options.role is Role.RESPONDER:
            own, peer = peer, own
        known = None if peer == "any" else Id.account(peer)
        return cls(network_id, options.role, Id.account(own), known)


@attrs.frozen(kw_only=True)
class Latest:
    """The latest co-signed state: its round, the signed tx (and its ``tx_`` text), balances."""

    round: int
    signed_tx: SignedTx | None
    tx: str | None
    state: OffChainState | None


@attrs.frozen(kw_only=True)
class SignedRound:
    """A state we signed and that is not co-signed yet (or just became so)."""

    inner: bytes  # the serialized inner tx we signed
    tx: str  # the signed tx we sent, as sent
    state: OffChainState | None  # the balances it holds, when they can be known
    # Who made each signature over ``inner`` that is known valid (ours, the peer's verified).
    signers: Mapping[bytes, Id] = _NO_SIGNERS
    # The signed tx we sent, as an object: the same text coming back co-signed is not decoded
    # again (None after a restore).
    sent: SignedTx | None = None
    # The contracts its updates create (ct_ id -> code): known once it is co-signed. The
    # record keeps them beside the tx, which does not hold its updates.
    created: Mapping[str, bytes] = _NO_CONTRACTS


@attrs.define
class Ledger:
    options: OpenOptions | None
    latest: Latest | None = None
    signed_rounds: dict[int, SignedRound] = attrs.Factory(dict)
    offered_state: OffChainState | None = None  # the state the offered request leads to
    offered_signers: Mapping[bytes, Id] = _NO_SIGNERS  # the offered request's, verified
    offered_contracts: Mapping[str, bytes] = _NO_CONTRACTS  # the ones its updates create
    # The code of every contract a co-signed state created, by ct_ id. Replaced, never changed
    # in place, so that a context keeps the contracts known when it was made.
    contracts: Mapping[str, bytes] = _NO_CONTRACTS
    own_round: int | None = None  # the round our own operation's signature is for
    # The mutual close tx we signed (a tx_ string): it has no round, so it is kept apart; after
    # a crash during the close it tells the application which tx to look for on chain.
    closing: str | None = None
    last_abort_was_own: bool = False
    # After we reattach to an FSM that ran while we were away, it may hold a state newer than
    # ours (signed with our key elsewhere); until a co-signed state arrives, what depends on
    # our latest round and balances cannot be checked.
    stale: bool = False
    # A new FSM goes on from the first co-signed state it sends and reuses the rounds above
    # it, as after a conflict: what we signed above it was not co-signed.
    fsm_restarted: bool = False
    # The channel id as the checks compare it, and the current operation and what the checks
    # compare it with: worked out once, not for every request.
    _channel_id_of: tuple[str, Id] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )
    _pending_of: tuple[object, PendingOperation | None] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )
    # What the checks read of the latest state, the same for an operation's sign request and
    # co-signed state; the participants they name, the same while the peer and the latest
    # state's participants are.
    _latest_of: tuple[Latest, bool, Id | None, LatestState | None] | None = attrs.field(
        default=None, init=False, eq=False, repr=False
    )
    _named_of: tuple[Id, Id | None, tuple[bytes, bytes] | None, tuple[Id, ...]] | None = (
        attrs.field(default=None, init=False, eq=False, repr=False)
    )

    @classmethod
    def initial(cls, options: OpenOptions | None) -> Ledger:
        return cls(options=options)

    # --- for the checks ---------------------------------------------------------------------

    def context(
        self,
        who: Participants,
        *,
        channel_id: str | None,
        operation: Operation | None,
        fee_policy: FeePolicy,
    ) -> SigningContext:
        """What the checks read: ``who`` takes part, in channel ``channel_id``, with our own
        ``operation`` under way (if any), fees bounded by ``fee_policy``."""
        latest = self._latest_for_checks(who)
        return SigningContext.of_ledger(
            network_id=who.network_id,
            role=who.role,
            account=who.account,
            peer=who.peer,
            channel_id=self._channel_id(channel_id),
            options=self.options,
            latest=latest,
            signed_rounds={r: s.inner for r, s in self.signed_rounds.items()},
            pending=self._pending_operation(who, operation),
            known_signers={s.inner: s.signers for s in self.signed_rounds.values() if s.signers},
            fee_policy=fee_policy,
            contracts=self.contracts,
            named=self._named(who, latest),
        )

    def _channel_id(self, text: str | None) -> Id | None:
        if text is None:
            return None
        if self._channel_id_of is None or self._channel_id_of[0] != text:
            self._channel_id_of = (text, Id.from_api(text))
        return self._channel_id_of[1]

    def _pending_operation(
        self, who: Participants, operation: Operation | None
    ) -> PendingOperation | None:
        if self._pending_of is None or self._pending_of[0] is not operation:
            self._pending_of = (operation, _pending(who, operation))
        return self._pending_of[1]

    def _latest_for_checks(self, who: Participants) -> LatestState | None:
        if self.latest is None:
            return None  # before the create tx is co-signed the checks read the open options
        kept = self._latest_of
        if (
            kept is None
            or kept[0] is not self.latest
            or kept[1] != self.stale
            or kept[2] is not who.peer
        ):
            kept = (self.latest, self.stale, who.peer, self._new_latest_state(who))
            self._latest_of = kept
        return kept[3]

    def _new_latest_state(self, who: Participants) -> LatestState | None:
        assert self.latest is not None
        state = self.latest.state if not self.stale else None
        state = state or _unknown_balances(who)
        if state is None:
            return None
        return LatestState(
            round=None if self.stale else self.latest.round,
            signed_tx=self.latest.signed_tx,
            state=state,
        )

    def _named(self, who: Participants, latest: LatestState | None) -> tuple[Id, ...]:
        keys = None if latest is None else latest.state.participants
        kept = self._named_of
        if kept is None or kept[0] is not who.account or kept[1] is not who.peer or kept[2] != keys:
            named = named_participants(who.account, who.peer, latest)
            kept = self._named_of = (who.account, who.peer, keys, named)
        return kept[3]

    # --- sign requests ----------------------------------------------------------------------

    def offered(
        self,
        tag: str,
        signed: SignedTx,
        updates: tuple[OffChainUpdate, ...],
        checks: CheckReport,
    ) -> None:
        """A sign request is on offer: work out the state it leads to, if that can be known,
        and keep who made the signatures its checks verified."""
        inner = crypto.inner_tx(signed)
        self.offered_state = None
        self.offered_signers = checks.signers
        self.offered_contracts = _created(updates, round_of(inner))
        try:
            if isinstance(inner, CREATE_TXS):
                push = self.options.push_amount if self.options is not None else 0
                self.offered_state = OffChainState.from_create_tx(inner, push)
            elif self.latest is not None and self.latest.state is not None:
                self.offered_state = self.latest.state.apply(updates)
        except ChannelError:
            self.offered_state = None  # the checks report why
        if self.stale and self.offered_state is not None:
            # Our latest state may be behind the FSM's (another client with our key may have
            # signed while we were away): the balances it leads to are known only if the
            # tx's state hash, which commits to them, says so.
            wanted = getattr(inner, "state_hash", None)
            if wanted is None or self.offered_state.state_hash() != wanted:
                self.offered_state = None

    def check_reply(
        self, who: Participants, offered: SignedTx, signed: SignedTx, made: bytes | None
    ) -> Mapping[bytes, Id]:
        """Refuse a reply that is not the ``offered`` tx signed by our account; give our
        signature over the inner tx, known valid. ``made``: the signature our own key pair just
        added, valid by construction."""
        wanted = crypto.inner_tx(offered).serialize()
        if crypto.inner_tx(signed).serialize() != wanted:
            raise LocalProtocolError("the reply does not hold the tx the node asked to sign")
        if made is not None:
            return {made: who.account}
        if _generalized_reply(signed, who.account):
            return _NO_SIGNERS
        # A peer that is a generalized account wraps the tx in its meta tx; we sign inside.
        layers = crypto.signed_layers(signed)
        for layer in layers:
            message = layer.transaction.serialize()
            for sig in layer.signatures:
                if crypto.verify(sig, message, who.network_id, who.account.key) is not None:
                    return {sig: who.account} if layer is layers[-1] else _NO_SIGNERS
        raise LocalProtocolError(
            f"the reply carries no valid signature by {who.account.api} for network "
            f"{who.network_id!r}"
        )

    def signed(self, tag: str, signed: SignedTx, text: str, ours: Mapping[bytes, Id]) -> None:
        """We send our signature on ``signed`` (``text``, its ``tx_`` string), written ahead of
        it being co-signed; ``ours`` is our signature over the inner tx, known valid."""
        inner = crypto.inner_tx(signed)
        own = is_own_operation_tag(tag)
        round_ = round_of(inner)
        if round_ is not None:
            sent = set(crypto.signed_layers(signed)[-1].signatures)
            signers = {s: who for s, who in {**self.offered_signers, **ours}.items() if s in sent}
            self.signed_rounds[round_] = SignedRound(
                inner=inner.serialize(),
                tx=text,
                state=self.offered_state,
                signers=types.MappingProxyType(signers) if signers else _NO_SIGNERS,
                sent=signed,
                created=self.offered_contracts,
            )
            if own:
                self.own_round = round_
        elif _closes_mutually(tag):
            self.closing = text
        self._offer_gone()

    def _offer_gone(self) -> None:
        self.offered_state = None
        self.offered_signers = _NO_SIGNERS
        self.offered_contracts = _NO_CONTRACTS

    def aborted(self, *, own: bool) -> None:
        """We aborted a sign request; ``own``: the request of our operation under way."""
        self.last_abort_was_own = own
        self._offer_gone()

    # --- co-signed states -------------------------------------------------------------------

    def take_co_signed(
        self, signed: SignedTx, text: str, checks: CheckReport, *, known_peer: Id | None
    ) -> tuple[int | None, bool]:
        """Take a co-signed state (``text``, its ``tx_`` string) as the latest if it passed the
        checks and is one we signed."""
        inner = crypto.inner_tx(signed)
        round_ = round_of(inner)
        if round_ is None or not checks.ok:
            return round_, False
        ours = self.signed_rounds.get(round_)
        if ours is not None and ours.inner == inner.serialize():
            state = ours.state
            if ours.created:
                self.contracts = types.MappingProxyType({**self.contracts, **ours.created})
        elif self._is_latest(round_, inner):
            assert self.latest is not None
            state = self.latest.state
        else:
            return round_, False
        self.latest = Latest(round=round_, signed_tx=signed, tx=text, state=state)
        self.stale = False
        # Rounds below the latest can no longer be signed (the round check refuses them).
        self.signed_rounds = {r: s for r, s in self.signed_rounds.items() if r > round_}
        if self.fsm_restarted:
            self.fsm_restarted = False
            self.roll_back(round_)
        return round_, True

    def _is_latest(self, round_: int, inner: ChainObject) -> bool:
        """Whether ``inner`` is our latest co-signed state's inner tx (sent again)."""
        return (
            self.latest is not None
            and self.latest.round == round_
            and self.latest.signed_tx is not None
            and crypto.inner_tx(self.latest.signed_tx).serialize() == inner.serialize()
        )

    def take_fetched(self, who: Participants, result: object) -> FetchedState:
        """Rebuild and check a ``get.offchain_state`` answer; a verified, newer state is taken.

        A state that carries valid signatures of both participants (ours included: we signed
        it, here or elsewhere) and whose trees hash to its state hash tells the balances and
        the code of every contract for sure, so it also refreshes a latest state that was stale
        or unknown, and teaches a channel resumed from an older record the contracts created
        since.
        """
        fetched = _rebuild(who, result)
        if not fetched.verified or fetched.signed_tx is None or fetched.round is None:
            return fetched
        if self.latest is not None and not self.stale and fetched.round < self.latest.round:
            return fetched
        state = _state_of(who, fetched)
        self.contracts = _with_codes(self.contracts, fetched.trees)
        self.latest = Latest(
            round=fetched.round,
            signed_tx=fetched.signed_tx,
            tx=encode_tx(fetched.signed_tx),
            state=state,
        )
        self.stale = False
        self.signed_rounds = {r: s for r, s in self.signed_rounds.items() if r > fetched.round}
        return fetched

    def own_state_in_flight(self, result: object) -> bool:
        """Whether a ``get.offchain_state`` answer holds, as its half-signed tx, the state we
        signed for our own operation: the FSM still waits for the peer's signature on it."""
        half = result.get("half_signed_tx") if isinstance(result, Mapping) else None
        ours = None if self.own_round is None else self.signed_rounds.get(self.own_round)
        if ours is None or not isinstance(half, str) or not half:
            return False
        try:
            return crypto.inner_tx(decode_signed_tx(half)).serialize() == ours.inner
        except ChannelError:
            return False

    def roll_back(self, round_: int) -> None:
        """The node rolled back to ``round_``: what we signed above it was not co-signed.

        The node reuses those rounds for the next update, so they are forgotten here (the
        half-signed state stays with the peer's node; see docs/checks.md).
        """
        self.signed_rounds = {r: s for r, s in self.signed_rounds.items() if r <= round_}
        self._offer_gone()

    def new_fsm(self) -> None:
        """A new FSM took over the channel: it knows only co-signed states."""
        self.fsm_restarted = True

    def sent(self, text: str) -> SignedTx | None:
        """The signed tx we sent as ``text``, if we still hold it (usually one or none)."""
        return next((s.sent for s in self.signed_rounds.values() if s.tx == text), None)

    def is_own_round(self, round_: int) -> bool:
        return self.own_round == round_

    def operation_started(self) -> None:
        self.own_round = None
        self.last_abort_was_own = False

    def forget(self) -> None:
        """Forget every stored state, as a client does that has none stored."""
        self.latest = None
        self.signed_rounds.clear()
        self.contracts = _NO_CONTRACTS
        self._offer_gone()

    # --- the record -------------------------------------------------------------------------

    def balances_api(self) -> dict[str, int] | None:
        return _balances_api(self.latest.state if self.latest is not None else None)

    def signed_ahead(self) -> dict[int, str]:
        return {r: s.tx for r, s in self.signed_rounds.items()}

    def contracts_api(self) -> dict[str, str]:
        """The known contracts' codes as ``cb_`` text, by ``ct_`` id."""
        return _contracts_api(self.contracts)

    def signed_ahead_balances(self) -> dict[int, dict[str, int]]:
        found = {r: _balances_api(s.state) for r, s in self.signed_rounds.items()}
        return {r: balances for r, balances in found.items() if balances is not None}

    def signed_ahead_contracts(self) -> dict[int, dict[str, str]]:
        """The contracts each state we signed ahead creates, as ``cb_`` text by ``ct_`` id."""
        return {r: _contracts_api(s.created) for r, s in self.signed_rounds.items() if s.created}

    def restore(self, record: ChannelRecord) -> None:
        self.closing = record.closing
        self.contracts = _contracts_of(record.contracts)
        if record.latest_state is not None and record.latest_round is not None:
            self.latest = Latest(
                round=record.latest_round,
                signed_tx=decode_signed_tx(record.latest_state),
                tx=record.latest_state,
                state=_record_state(record, record.balances),
            )
        # What we signed ahead, with what it holds, so that the same state coming back
        # co-signed is taken (balances and all) after a crash.
        for round_, text in record.signed_ahead.items():
            inner = crypto.inner_tx(decode_signed_tx(text)).serialize()
            state = _record_state(record, record.signed_ahead_balances.get(round_))
            created = _contracts_of(record.signed_ahead_contracts.get(round_, {}))
            self.signed_rounds[round_] = SignedRound(
                inner=inner, tx=text, state=state, created=created
            )


def _created(updates: tuple[OffChainUpdate, ...], round_: int | None) -> Mapping[str, bytes]:
    """The contracts the create updates of the state of ``round_`` make, by the ids the node
    gives them."""
    if round_ is None:
        return _NO_CONTRACTS
    found = {
        created_contract_id(update, round_): update.code
        for update in updates
        if isinstance(update, OffChainNewContract)
    }
    return types.MappingProxyType(found) if found else _NO_CONTRACTS


def _contracts_api(contracts: Mapping[str, bytes]) -> dict[str, str]:
    return {ct: encoding.encode("cb", code) for ct, code in contracts.items()}


def _contracts_of(view: Mapping[str, str]) -> Mapping[str, bytes]:
    """Contracts as a record keeps them (``cb_`` text by ``ct_`` id), as the ledger does."""
    if not view:
        return _NO_CONTRACTS
    return types.MappingProxyType({ct: encoding.decode(code, "cb") for ct, code in view.items()})


def _with_codes(known: Mapping[str, bytes], trees: StateTrees | None) -> Mapping[str, bytes]:
    """``known`` with the code of every contract in verified ``trees``. Trees whose contract
    objects do not decode teach nothing: their calls stay undecoded, as for an unknown code."""
    assert trees is not None
    try:
        found = contract_codes(trees)
    except ChannelError:
        return known
    return types.MappingProxyType({**known, **found})


def _balances_api(state: OffChainState | None) -> dict[str, int] | None:
    if state is None or state.balances is None:
        return None
    return {encoding.encode("ak", key): value for key, value in state.balances.items()}


def _record_state(
    record: ChannelRecord, balances: Mapping[str, int] | None
) -> OffChainState | None:
    """The participants' balances as a record keeps them, as an off-chain state."""
    if balances is None or record.peer is None:
        return None
    keys = {encoding.decode(k, "ak"): v for k, v in balances.items()}
    ours, theirs = encoding.decode(record.account, "ak"), encoding.decode(record.peer, "ak")
    initiator, responder = (ours, theirs) if record.role == "initiator" else (theirs, ours)
    return OffChainState(initiator=initiator, responder=responder, balances=keys)


@attrs.frozen(kw_only=True)
class FetchedState:
    signed_tx: SignedTx | None
    round: int | None
    trees: StateTrees | None
    verified: bool
    detail: str

    def event(self, operation: Operation) -> OffChainStateFetched:
        """The event that tells the application of this state, fetched by ``operation``."""
        return OffChainStateFetched(
            operation=operation,
            signed_tx=self.signed_tx,
            round=self.round,
            trees=self.trees,
            verified=self.verified,
            detail=self.detail,
            balances=None if self.trees is None else api_balances(self.trees),
        )


def _rebuild(who: Participants, result: object) -> FetchedState:
    signed_text = result.get("signed_tx") if isinstance(result, Mapping) else None
    trees_text = result.get("trees") if isinstance(result, Mapping) else None
    if not isinstance(signed_text, str) or not isinstance(trees_text, str) or not signed_text:
        return FetchedState(
            signed_tx=None,
            round=None,
            trees=None,
            verified=False,
            detail="the answer holds no signed state and trees",
        )
    try:
        signed = decode_signed_tx(signed_text)
        trees = decode_state_trees(trees_text)
        trees.check()
    except ChannelError as exc:
        return FetchedState(signed_tx=None, round=None, trees=None, verified=False, detail=str(exc))
    inner = crypto.inner_tx(signed)
    round_ = round_of(inner)
    wanted = getattr(inner, "state_hash", None)
    if wanted != trees.state_hash():
        detail = "the trees do not hash to the signed state's state hash"
    elif len(crypto.signed_layers(signed)) > 1:
        detail = (
            "the trees match, but a participant authenticates as a generalized account, "
            "which the client cannot check"
        )
    elif who.peer is None or not _signed_by_both(who, signed):
        detail = "the signed state lacks a valid signature of a participant"
    else:
        detail = ""
    return FetchedState(
        signed_tx=signed,
        round=round_,
        trees=trees,
        verified=not detail,
        detail=detail or "trees rebuilt; their hash is the co-signed state's",
    )


def _signed_by_both(who: Participants, signed: SignedTx) -> bool:
    assert who.peer is not None
    layer = crypto.signed_layers(signed)[-1]
    tx_bytes = layer.transaction.serialize()
    return all(
        any(crypto.verify(sig, tx_bytes, who.network_id, one.key) for sig in layer.signatures)
        for one in (who.account, who.peer)
    )


def _state_of(who: Participants, fetched: FetchedState) -> OffChainState | None:
    """The participants' balances in a verified state (contracts noted)."""
    assert fetched.trees is not None
    assert who.peer is not None
    accounts = fetched.trees.accounts()
    ours, theirs = who.account.key, who.peer.key
    if ours not in accounts or theirs not in accounts:
        return None
    initiator, responder = (ours, theirs) if who.role is Role.INITIATOR else (theirs, ours)
    return OffChainState(
        initiator=initiator,
        responder=responder,
        balances={initiator: accounts[initiator], responder: accounts[responder]},
        contracts=len(accounts) > 2,
    )


def _unknown_balances(who: Participants) -> OffChainState | None:
    """The participants with balances unknown; None while the peer is not known either."""
    if who.peer is None:
        return None
    ours, theirs = who.account.key, who.peer.key
    initiator, responder = (ours, theirs) if who.role is Role.INITIATOR else (theirs, ours)
    return OffChainState(initiator=initiator, responder=responder, balances=None)


def _generalized_reply(signed: SignedTx, account: Id) -> bool:
    """A generalized account answers with no signature, around a meta tx of its own."""
    if signed.signatures:
        return False
    meta = signed.transaction
    return isinstance(meta, (GAMetaTx, GAMetaTxV1)) and meta.ga_id == account


def is_own_operation_tag(tag: str) -> bool:
    """Whether ``tag`` is the request of an own operation (not the open, not the peer's)."""
    found = operation_for_tag(tag)
    return found is not None and found[1] and not found[0].opens


def _closes_mutually(tag: str) -> bool:
    # The mutual close tx, ours or the peer's, has no round: it is kept apart.
    found = operation_for_tag(tag)
    return found is not None and found[0].ends is Ends.CLOSE_MUTUAL


# The values we set in an own command that the checks compare: PendingOperation's fields.
_PENDING_FIELDS: Final = tuple(
    field.name for field in attrs.fields(PendingOperation) if field.name != "kind"
)


def _pending(who: Participants, operation: Operation | None) -> PendingOperation | None:
    if operation is None:
        return None
    command = operation.command
    row = operation_for_method(command.METHOD)
    # Every own command has its row (tests/test_operations.py): only those are current.
    assert row is not None, command.METHOD
    assert row.kind is not None, command.METHOD
    values = {
        name: value
        for name in _PENDING_FIELDS
        if (value := getattr(command, name, None)) is not None
    }
    if "code" in values or "call_data" in values:
        for name in ("code", "call_data"):
            if name in values:
                values[name] = encoding.decode(values[name], "cb")
    if "meta" in values:
        values["meta"] = tuple(text.encode("utf-8") for text in values["meta"])
    # Usually our account and the peer's, already parsed: those are not parsed again.
    known = {one.api: one for one in (who.account, who.peer) if one is not None}
    for name in ("from_id", "to_id", "contract_id"):
        text = values.get(name)
        if isinstance(text, str):
            values[name] = known.get(text) or Id.from_api(text)
    return PendingOperation(kind=row.kind, **values)
