"""What a sign request must satisfy before anything is signed.

:func:`check_sign_request` looks at one ``channels.sign.<tag>`` request against what the channel
knows (:class:`SigningContext`) and returns a :class:`CheckReport`: one :class:`Check` per rule
that applies, each PASSED, FAILED, or NOT_CHECKED with the reason it cannot be checked from the
outside (that is what the application trusts its node for). :func:`check_co_signed_state` does
the same for a state arriving in ``channels.update`` / ``channels.leave``.

The checks, by name:

* ``tag``, ``tx_type``: a sign tag for our role, carrying the tx type the tag stands for;
* ``channel_id``: our channel; the id a create tx opens is derived from it (``crypto.channel_id``);
* ``open_options``: a create tx carries our open options, and no delegates;
* ``own_operation``: our operation's updates and tx carry exactly what we asked for;
* ``contract_call``: our create or call calls what we asked for (the function and arguments
  when we gave them, else the call data bytes); a peer's says what it calls;
* ``fee``: every fee the node chose is within the fee policy; one we asked for is ours;
* ``signatures``: each one a participant's under the network id; the peer's on its operation;
* ``updates``: they agree with the tx, and a node would apply them to our balances;
* ``round``: the one after our latest co-signed round; ``one_state_per_round``: never a
  second, different state for a round we signed;
* ``state_hash``: the one our latest co-signed balances give with the updates applied;
* ``final_amounts``: a close pays our balances less the fee as the node splits it, a settle
  our balances;
* ``payload``: a solo tx's is our latest co-signed state; ``poi``: never checked;
* ``known_state``: a co-signed state is one we signed, or whose round and hash we know.

Everything here is pure: no I/O, no clock. Hostile input gives FAILED checks, never an
exception; only misuse of the API raises :class:`LocalProtocolError`. The inner tx of a
generalized account's request (a signed tx without signatures around a ``ga_meta_tx``) is the
innermost one, and that is what is checked.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Final

import attrs

from . import encoding
from . import txs as t
from .codec import ChainObject
from .crypto import channel_id, signed_layers, signer_of
from .encoding import Id
from .errors import DecodingError, LocalProtocolError
from .fate.describe import FATE_ABI, UpdateCall, describe_update
from .fees import FeePolicy, minimum_fee
from .offchain import OffChainState, UpdateRefused, pack_ct_version
from .operations import SIGN_TAGS, FieldRule, OperationKind, Rule, field_rules, operation_for_tag
from .operations import operation_of as _operation_of
from .options import ANY_INITIATOR, Role
from .signing_context import LatestState, PendingOperation, SigningContext

__all__ = [
    "Check",
    "CheckReport",
    "LatestState",
    "OperationKind",
    "Outcome",
    "PendingOperation",
    "SigningContext",
    "check_co_signed_state",
    "check_sign_request",
    "derived_channel_id",
]

_FUNDING: Final = (t.ChannelDepositTx, t.ChannelWithdrawTx)
_STATE_TXS: Final = (*t.CREATE_TXS, t.ChannelOffChainTx, *_FUNDING)  # hash follows from balances
_UPDATES: Final = typing.get_args(t.OffChainUpdate)
_FUNDING_UPDATES: Final = (t.OffChainDeposit, t.OffChainWithdrawal)
_UPDATING: Final = (t.ChannelOffChainTx, *_FUNDING, t.ChannelForceProgressTx)  # carry updates
_CO_SIGNED: Final = (*_STATE_TXS, t.ChannelForceProgressTx)  # a channel state
_CONTRACT_UPDATES: Final = (t.OffChainNewContract, t.OffChainCallContract)


def _read_only(value: Mapping[bytes, Id]) -> Mapping[bytes, Id]:
    return types.MappingProxyType(dict(value))


class Outcome(enum.Enum):
    """How a check ended; ``NOT_CHECKED`` when the client could not know (see ``detail``)."""

    PASSED = "passed"
    FAILED = "failed"
    NOT_CHECKED = "not checked"


@attrs.frozen(kw_only=True)
class Check:
    """One rule checked on a sign request or a co-signed state: its name, outcome and why."""

    name: str
    outcome: Outcome
    detail: str


@attrs.frozen
class CheckReport:
    """The checks a request or state went through, in order.

    ``signers`` names who made each signature on the innermost tx that the checks verified
    (or already knew), so that the channel never verifies the same signature twice.
    """

    checks: tuple[Check, ...]
    signers: Mapping[bytes, Id] = attrs.field(
        factory=dict, converter=_read_only, eq=False, repr=False, kw_only=True
    )

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.FAILED)

    @property
    def not_checked(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.outcome is Outcome.NOT_CHECKED)

    @property
    def ok(self) -> bool:
        """Nothing failed (some checks may not have been possible: see ``not_checked``)."""
        return not self.failed

    def get(self, name: str) -> Check | None:
        """The first check of that name, if it ran."""
        return next((c for c in self.checks if c.name == name), None)

    def __iter__(self) -> Iterator[Check]:
        return iter(self.checks)


# --- helpers -------------------------------------------------------------------------------


def _of_outcome(outcome: Outcome) -> Callable[[str, str], Check]:
    def make(name: str, detail: str) -> Check:
        return Check(name=name, outcome=outcome, detail=detail)

    return make


_passed: Final = _of_outcome(Outcome.PASSED)
_failed: Final = _of_outcome(Outcome.FAILED)
_unknown: Final = _of_outcome(Outcome.NOT_CHECKED)


def _verdict(name: str, problems: list[str], passed: str) -> Check:
    return _failed(name, "; ".join(problems)) if problems else _passed(name, passed)


def _show(value: object) -> str:
    return encoding.short(value.hex(), 18) if isinstance(value, bytes) else str(value)


def _differences(pairs: list[tuple[str, object, object]]) -> list[str]:
    """Each (label, expected, got) that differs; an expected None is not compared."""
    return [
        f"{label} is {_show(got)}, expected {_show(expected)}"
        for label, expected, got in pairs
        if expected is not None and expected != got
    ]


def _names(updates: Sequence[ChainObject]) -> str:
    return "[" + ", ".join(type(u).__name__ for u in updates) + "]" if updates else "none"


def _innermost(signed: t.SignedTx) -> ChainObject:
    return signed_layers(signed)[-1].transaction


def _metas(signed: t.SignedTx) -> list[t.GAMetaTx | t.GAMetaTxV1]:
    layers = [layer.transaction for layer in signed_layers(signed)]
    return [meta for meta in layers if isinstance(meta, (t.GAMetaTx, t.GAMetaTxV1))]


def _round_of(tx: ChainObject) -> int | None:
    found = 1 if isinstance(tx, t.CREATE_TXS) else getattr(tx, "round", None)
    return found if isinstance(found, int) else None


def derived_channel_id(signed: t.SignedTx) -> Id | None:
    """The id of the channel a (signed) create tx opens, or None if it cannot be known yet
    (a generalized initiator's, before its meta tx wraps the tx); :func:`channel_id` derives it.
    """
    if not isinstance(_innermost(signed), t.CREATE_TXS):
        return None
    try:
        return channel_id(signed)
    except LocalProtocolError:
        return None


# --- the checks ------------------------------------------------------------------------------


class _Request:
    """A sign request (or a co-signed state: no tag, no updates) and what follows from it.

    A plain class, not attrs: one is made for every request and state, and what the checks
    read of it (``own``, ``non_meta``) is worked out here once.
    """

    __slots__ = (
        *("ctx", "signed", "tx", "tag", "updates", "after", "refused"),
        *("own", "opens", "rules", "non_meta", "signers"),
    )

    def __init__(
        self,
        *,
        ctx: SigningContext,
        signed: t.SignedTx,
        tx: ChainObject,  # the innermost tx
        tag: str = "",
        updates: tuple[t.OffChainUpdate, ...] = (),
        # The balances after the updates, or why a node would refuse them (None: nothing
        # applied).
        after: OffChainState | None = None,
        refused: str | None = None,
    ) -> None:
        self.ctx, self.signed, self.tx, self.tag = ctx, signed, tx, tag
        self.updates, self.after, self.refused = updates, after, refused
        found = operation_for_tag(tag)
        # Our own operation's request (the open's initiator side included), or the peer's.
        self.own = found is None or found[1]
        self.opens = found is not None and found[0].opens
        # The field rules of the request's tag: none for a co-signed state.
        self.rules = field_rules(tag) if found is not None else {}
        self.non_meta = [u for u in updates if not isinstance(u, t.OffChainMeta)]
        # Filled in by the signature check: who made each signature on the innermost tx.
        self.signers: dict[bytes, Id] = {}


def _check_channel_id(req: _Request) -> Check:
    name, ours, tx = "channel_id", req.ctx.channel_id, req.tx
    found = derived_channel_id(req.signed) if isinstance(tx, t.CREATE_TXS) else tx.channel_id  # type: ignore[attr-defined]
    if found is None:
        return _unknown(name, "a generalized initiator's channel id depends on its auth data")
    if ours is None and isinstance(tx, t.CREATE_TXS):
        # At open the create tx is what names the channel; open_options checks what it opens.
        return _passed(name, f"the create tx opens {found}")
    if ours is None:
        return _unknown(name, f"the tx is for {found}; our channel id is not known yet")
    if found is not ours and found != ours:  # usually the very id we hold: ids are shared
        return _failed(name, f"the tx is for {found}, not our channel {ours}")
    return _passed(name, f"our channel {ours}")


def _check_fee(req: _Request) -> Check | None:
    """Every fee the tx pays (and a meta tx's fee, gas and gas price): what we asked, else
    within the fee policy. A fee below the minimum is not refused: such a tx is never mined."""
    name, policy, tx = "fee", req.ctx.fee_policy, req.tx
    rule = req.rules.get(type(tx), {}).get("fee")
    # A meta tx's client sets its fee and its account pays it: the peer's is the peer's own.
    metas = [meta for meta in _metas(req.signed) if meta.ga_id == req.ctx.account]
    if (rule is None or rule.rule is not Rule.FEE_POLICY) and not metas:
        return None
    problems: list[str] = []
    if rule is not None and rule.rule is Rule.FEE_POLICY:
        got: int = tx.fee  # type: ignore[attr-defined]
        fee, gas_price = _asked_fee(req, rule)
        if fee is None and gas_price is None:
            problems += _above_bound(policy, tx, got)
        else:
            problems += _asked_fee_problems(tx, got, fee, gas_price)
    for meta in metas:
        problems += _above_bound(policy, meta, meta.fee, "the meta tx's fee")
        if meta.gas_price > policy.max_gas_price:
            problems.append(
                f"the meta tx's gas price {meta.gas_price} is above {policy.max_gas_price} "
                "(the fee policy's max_gas_price)"
            )
        problems += _above_bound(policy, meta, meta.gas * meta.gas_price, "the meta tx's gas")
    return _verdict(name, problems, "what we asked, or within the fee policy")


def _asked_fee(req: _Request, rule: FieldRule) -> tuple[int | None, int | None]:
    """The fee and gas price we set for this tx (None, None: the node chose)."""
    if not rule.asked:
        return None, None
    if isinstance(req.tx, t.CREATE_TXS):
        options = req.ctx.options
        return (None, None) if options is None else (options.fee, options.gas_price)
    op = req.ctx.pending if req.own else None
    return (None, None) if op is None else (op.fee, op.gas_price)


def _above_bound(policy: FeePolicy, tx: ChainObject, got: int, what: str = "fee") -> list[str]:
    bound = policy.fee_bound(tx)
    if got <= bound:
        return []
    why = "max_fee" if policy.max_fee is not None else f"fee_multiple {policy.fee_multiple}"
    return [f"{what} is {got}, above {bound}, the most the fee policy allows ({why})"]


def _asked_fee_problems(
    tx: ChainObject, got: int, fee: int | None, gas_price: int | None
) -> list[str]:
    """With fee= the node writes it; with gas_price= the least fee at that price (its own
    size included); with both, the larger of the two."""
    priced = None if gas_price is None else minimum_fee(tx, gas_price)
    wanted = max(v for v in (fee, priced) if v is not None)
    if got == wanted:
        return []
    asked = " and ".join(
        f"{n}={v}" for n, v in (("fee", fee), ("gas_price", gas_price)) if v is not None
    )
    return [f"fee is {got}, expected {wanted} ({asked})"]


def _check_open_options(req: _Request) -> Check | None:
    tx, ctx, options, name = req.tx, req.ctx, req.ctx.options, "open_options"
    if not isinstance(tx, t.CREATE_TXS):
        return None
    if options is None:
        return _unknown(name, "no open options to compare with (a resumed channel)")
    any_initiator = options.initiator_id == ANY_INITIATOR
    initiator = ctx.peer if any_initiator else Id.account(options.initiator_id)
    problems = _differences(
        [
            ("our account", ctx.account, getattr(tx, f"{ctx.role.value}_id")),
            ("initiator_id", initiator, tx.initiator_id),
            ("responder_id", Id.account(options.responder_id), tx.responder_id),
            *[(n, getattr(options, n), getattr(tx, n)) for n in _OPEN_AMOUNTS],
        ]
    )
    if isinstance(tx, t.ChannelCreateTxV1):
        delegates = tx.delegate_ids
    else:
        delegates = (*tx.initiator_delegate_ids, *tx.responder_delegate_ids)
    if delegates:
        problems.append(f"{len(delegates)} delegate(s) we did not ask for")
    if ctx.role is Role.INITIATOR:  # the initiator's node builds and pays for the create tx
        problems += _differences([("ttl", options.ttl, tx.ttl), ("nonce", options.nonce, tx.nonce)])
    return _verdict(name, problems, "the create tx carries our open options")


_OPEN_AMOUNTS: Final = ("initiator_amount", "responder_amount", "channel_reserve", "lock_period")


def sign_tag_for(kind: OperationKind) -> str:
    """The sign tag of the request that an own operation of ``kind`` leads to."""
    return _operation_of(kind).tag.tag


def _asked(op: PendingOperation, ctx: SigningContext, name: str) -> object:
    """The value of ours a field rule names (None: we did not set it, it is not compared)."""
    if name == "account":
        return ctx.account
    if name == "ct_version":  # a contract create packs the two versions we set into one
        if op.vm_version is None or op.abi_version is None:
            return None
        return pack_ct_version(op.vm_version, op.abi_version)
    return getattr(op, name)


def _asked_problems(req: _Request, op: PendingOperation, where: str, obj: ChainObject) -> list[str]:
    """Each field of ``obj`` whose rule names a value we set, and that differs from it."""
    problems = []
    rules: Mapping[str, FieldRule] = req.rules.get(type(obj), {})
    for name, rule in rules.items():
        if rule.check != "own_operation":
            continue
        for asked in rule.asked:
            value = _asked(op, req.ctx, asked)
            # Our ids are usually the very objects in the tx: `is` spares attrs' __eq__.
            if value is not None and (got := getattr(obj, name)) is not value and value != got:
                problems.append(f"{where}.{name} is {_show(got)}, expected {_show(value)}")
    return problems


def _check_own_operation(req: _Request) -> Check | None:
    name, op = "own_operation", req.ctx.pending
    if not req.own or req.opens:
        return None
    if op is None:
        return _failed(name, f"no operation of ours is pending, yet the node asks for {req.tag}")
    row = _operation_of(op.kind)
    if row.tag.tag != req.tag:
        return _failed(name, f"we asked for a {op.kind.value}, the node asks for {req.tag}")
    non_meta = req.non_meta
    problems = _asked_problems(req, op, "tx", req.tx)
    if row.update is not None:
        if len(non_meta) != 1 or not isinstance(non_meta[0], row.update):
            wanted = row.update.__name__
            return _failed(name, f"expected one {wanted} update, got {_names(non_meta)}")
        problems += _asked_problems(req, op, "update", non_meta[0])
    elif non_meta:
        return _failed(name, f"a {op.kind.value} makes no updates, got {_names(non_meta)}")
    meta = tuple(u.data for u in req.updates if isinstance(u, t.OffChainMeta))
    problems += _differences([("meta", op.meta, meta)])
    return _verdict(name, problems, f"the {op.kind.value} we asked for")


def _check_contract_call(req: _Request) -> Check | None:
    """What each create or call update calls, decoded with the code the update or the channel
    holds; for our own operation, compared with what we asked for (its rule names the values)."""
    name = "contract_call"
    found = [u for u in req.non_meta if isinstance(u, _CONTRACT_UPDATES)]
    if not found:
        return None
    op = req.ctx.pending if req.own else None
    problems: list[str] = []
    shown: list[str] = []
    unknown: list[str] = []
    for update in found:
        try:
            described = describe_update(update, req.ctx.contracts)
            why = "" if described is not None else _undecoded(update)
        except DecodingError as exc:
            # A node runs such a call all the same: it fails in the VM and uses up its gas.
            described, why = None, f"it does not decode: {exc}"
        rule = req.rules.get(type(update), {}).get("call_data")
        if op is not None and rule is not None and rule.asked:
            problems += _asked_call_problems(op, update, described)
        if described is not None:
            shown.append(str(described))
        else:
            unknown.append(why)
    if problems:
        return _failed(name, "; ".join(problems))
    if unknown and op is None:
        return _unknown(name, "; ".join(unknown))
    asked = [f"the call data we asked for ({why})" for why in unknown]
    return _passed(name, "; ".join([*shown, *asked]))


def _asked_call_problems(
    op: PendingOperation,
    update: t.OffChainNewContract | t.OffChainCallContract,
    described: UpdateCall | None,
) -> list[str]:
    """The decoded call against the function and arguments we gave; without them (or without
    the code to decode with), the call data bytes against the ones we gave."""
    if op.call is not None and described is not None:
        got, asked = described.call, op.call
        if (got.function, got.arguments) != (asked.function, asked.arguments):
            return [f"the update calls {got}, we asked for {asked}"]
        return []
    return _differences([("update.call_data", op.call_data, update.call_data)])


def _undecoded(update: t.OffChainNewContract | t.OffChainCallContract) -> str:
    if isinstance(update, t.OffChainCallContract) and update.abi_version != FATE_ABI:
        return f"a call of ABI version {update.abi_version}, which is not FATE"
    if isinstance(update, t.OffChainNewContract):
        return f"a create of ABI version {update.ct_version & 0xFFFF}, which is not FATE"
    return f"a call to {update.contract_id.api}, whose code the channel does not know"


def _signers(req: _Request) -> tuple[list[str], set[Id]]:
    """(signatures that verify for no participant, participants whose signature over the
    innermost tx verifies). Each signature is checked over the tx of its own layer; one over
    an inner tx we signed that was verified before (or is ours) is not verified again."""
    ctx, layers = req.ctx, signed_layers(req.signed)
    participants: list[Id] = []
    bad: list[str] = []
    for depth, layer in enumerate(layers):
        innermost = depth == len(layers) - 1
        message = layer.transaction.serialize()
        known = ctx.known_signers.get(message, {}) if innermost else {}
        for index, signature in enumerate(layer.signatures):
            signer = known.get(signature)
            if signer is None:
                participants = participants or _likely_signers_first(req)
                signer = signer_of(signature, message, ctx.network_id, participants)
            if signer is None:
                bad.append(f"signature {index} (layer {depth}) verifies for no participant")
            elif innermost:
                req.signers[signature] = signer
    if bad:
        bad.append(f"under network id {ctx.network_id!r}")
    return bad, set(req.signers.values())


def _likely_signers_first(req: _Request) -> list[Id]:
    # A signature not known already is most likely the peer's: it is tried first.
    participants, peer = req.ctx.participants(req.tx), req.ctx.peer_of(req.tx)
    if peer in participants:
        participants.remove(peer)
        participants.insert(0, peer)
    return participants


def _authenticated(req: _Request, who: Id | None, signers: set[Id], role: str) -> Check | None:
    """None when ``who`` (named by ``role``) signed; else why that is missing or uncheckable."""
    name = "signatures"
    if who is None:
        return _unknown(name, f"{role}'s account is not known")
    if who in signers:
        return None
    if any(meta.ga_id == who for meta in _metas(req.signed)):
        why = "its ga_meta_tx is authenticated by a contract the node runs"
        return _unknown(name, f"{role} {who} is a generalized account: {why}")
    network = req.ctx.network_id
    return _failed(name, f"no valid signature by {role} {who} under network id {network!r}")


def _check_signatures(req: _Request) -> Check:
    ctx, tx = req.ctx, req.tx
    bad, signers = _signers(req)
    if bad:
        return _failed("signatures", "; ".join(bad))
    if req.tag and req.own:
        return _passed("signatures", f"{len(signers)} so far, all by participants")
    required: list[tuple[str, Id | None]] = [("the peer", ctx.peer_of(tx))]
    if not req.tag:  # a co-signed state: both participants', a force progress the forcer's
        both = [("our account", ctx.account), *required]
        required = (
            [("the forcer", tx.from_id)] if isinstance(tx, t.ChannelForceProgressTx) else both
        )
    found = [c for role, who in required if (c := _authenticated(req, who, signers, role))]
    found.sort(key=lambda check: check.outcome is not Outcome.FAILED)
    roles = " and ".join(role for role, _ in required)
    return found[0] if found else _passed("signatures", f"{roles} signed, under {ctx.network_id!r}")


def _check_updates(req: _Request) -> Check:
    tx, name, non_meta = req.tx, "updates", req.non_meta
    expected: list[ChainObject] | None = None
    if isinstance(tx, t.ChannelOffChainTx):  # the usual one first
        funding = [u for u in non_meta if isinstance(u, _FUNDING_UPDATES)]
        if funding:
            return _failed(name, f"an off-chain tx cannot carry {_names(funding)}")
    elif isinstance(tx, t.ChannelDepositTx):
        expected = [t.OffChainDeposit(from_id=tx.from_id, amount=tx.amount)]
    elif isinstance(tx, t.ChannelWithdrawTx):
        expected = [t.OffChainWithdrawal(to_id=tx.to_id, amount=tx.amount)]
    elif isinstance(tx, t.ChannelForceProgressTx):
        expected = [tx.update]
    else:
        expected = []
    if expected is not None and non_meta != expected:
        return _failed(name, f"the updates {_names(non_meta)} do not match the {tx.TYPE}")
    if req.refused is not None:
        return _failed(name, f"a node would refuse them: {req.refused}")
    return _passed(name, f"{_names(req.updates)}, consistent with the tx")


def _check_round(req: _Request) -> Check | None:
    name, latest, found = "round", req.ctx.latest, _round_of(req.tx)
    if found is None:
        return None
    if isinstance(req.tx, t.CREATE_TXS):
        if latest is None:
            return _passed(name, "round 1, the channel's first state")
        return _failed(name, "a create tx, but the channel already has a co-signed state")
    if latest is None or latest.round is None:
        return _unknown(name, "our latest co-signed round is unknown")
    if found != latest.round + 1:
        back = " (going back)" if found <= latest.round else ""
        expected = latest.round + 1
        return _failed(name, f"round {found}{back}, expected {expected} (latest co-signed + 1)")
    return _passed(name, f"round {found}, the next after our latest co-signed round")


def _check_one_state_per_round(req: _Request) -> Check | None:
    name, found = "one_state_per_round", _round_of(req.tx)
    if found is None:
        return None
    signed_before = req.ctx.signed_rounds.get(found)
    if signed_before is None:
        return _passed(name, f"we have not signed round {found} before")
    if signed_before != req.tx.serialize():
        return _failed(name, f"we already signed a different state for round {found}")
    return _passed(name, f"the same state we signed for round {found}")


def _check_state_hash(req: _Request) -> Check | None:
    tx, ctx, name = req.tx, req.ctx, "state_hash"
    if isinstance(tx, t.ChannelForceProgressTx):
        return _unknown(name, "a force progress runs a contract call: only the VM knows its state")
    if not isinstance(tx, _STATE_TXS):
        return None
    state = req.after
    if isinstance(tx, t.CREATE_TXS):
        if ctx.options is None:
            return _unknown(name, "no open options to compute the first state from")
        anyone = ctx.options.initiator_id == ANY_INITIATOR  # then the peer, or whoever opens
        initiator = (ctx.peer or tx.initiator_id) if anyone else None
        if initiator == Id.account(ctx.options.responder_id):
            return _failed(name, "the create tx opens a channel of the responder with itself")
        state = OffChainState.initial(ctx.options, initiator_id=initiator)
    elif ctx.latest is None:
        return _unknown(name, "no co-signed state to apply the updates to")
    if state is None:
        return _unknown(name, "the updates do not apply to our balances (see updates)")
    expected = state.state_hash()
    if expected is None:
        return _unknown(name, f"cannot be computed: {state.unknown_reason()}")
    if expected != tx.state_hash:
        got = _show(tx.state_hash)
        return _failed(
            name, f"the tx has {got}, our balances with the updates give {_show(expected)}"
        )
    return _passed(name, "our balances with the updates give the tx's state hash")


def _check_final_amounts(req: _Request) -> Check | None:
    tx, latest, name = req.tx, req.ctx.latest, "final_amounts"
    if not isinstance(tx, (t.ChannelCloseMutualTx, t.ChannelSettleTx)):
        return None
    if latest is None or latest.state.balances is None or not latest.state.exact:
        reason = "no co-signed state" if latest is None else latest.state.unknown_reason()
        return _unknown(name, f"our balances are not known exactly: {reason}")
    state, got = latest.state, (tx.initiator_amount_final, tx.responder_amount_final)
    ours = (state.balances[state.initiator], state.balances[state.responder])  # type: ignore[index]
    if isinstance(tx, t.ChannelSettleTx):
        expected, what = frozenset({ours}), "our balances"
    else:
        expected = state.close_mutual_amounts(tx.fee) or frozenset()
        what = f"our balances {ours} less the fee {tx.fee} as the node splits it"
        if not expected:
            return _failed(name, f"our balances {ours} cannot pay the fee {tx.fee}")
    if got not in expected:
        return _failed(name, f"(initiator, responder) get {got}, expected {min(expected)}")
    return _passed(name, f"{got}: {what}")


def _check_payload(req: _Request) -> Check | None:
    name, latest = "payload", req.ctx.latest
    if not hasattr(req.tx, "payload"):
        return None
    payload: t.SignedTx | None = req.tx.payload
    if latest is None or latest.signed_tx is None:
        return _unknown(name, "our latest co-signed state is not at hand")
    if payload is None:
        if isinstance(_innermost(latest.signed_tx), t.ChannelOffChainTx):
            why = f"ours (round {latest.round}) is on chain only if snapshotted"
            return _unknown(name, f"empty: the node uses the latest state on chain; {why}")
        return _passed(name, "empty: the latest state on chain is our latest co-signed state")
    if payload.serialize() != latest.signed_tx.serialize():
        got = _round_of(_innermost(payload))
        return _failed(name, f"round {got}, not our latest co-signed state ({latest.round})")
    return _passed(name, f"our latest co-signed state (round {latest.round})")


def _check_poi(req: _Request) -> Check | None:
    if not hasattr(req.tx, "poi"):
        return None
    return _unknown("poi", "the proof of inclusion is built by the node and not decoded here")


def _check_known_state(req: _Request) -> Check:
    tx, latest, name = req.tx, req.ctx.latest, "known_state"
    found = _round_of(tx)
    known = {req.ctx.signed_rounds.get(found or 0)}
    if latest is not None:  # our latest again (after a reestablish), as a tx or round and hash
        known.add(_innermost(latest.signed_tx).serialize() if latest.signed_tx else None)
        if latest.round == found and latest.state.state_hash() == getattr(tx, "state_hash", 0):
            return _passed(name, f"round {found} with the state hash we know")
    if tx.serialize() in known:
        return _passed(name, f"round {found}: a state we signed, or our latest co-signed state")
    return _failed(name, f"round {found}: not a state we signed or acknowledged")


_Run = Callable[[_Request], "Check | None"]
_REQUEST_CHECKS: Final[tuple[_Run, ...]] = (
    _check_channel_id,
    _check_open_options,
    _check_own_operation,
    _check_contract_call,
    _check_fee,
    _check_signatures,
    _check_updates,
    _check_round,
    _check_one_state_per_round,
    _check_state_hash,
    _check_final_amounts,
    _check_payload,
    _check_poi,
)
_CO_SIGNED_CHECKS: Final = (_check_channel_id, _check_known_state, _check_signatures)


def _run(req: _Request, first: list[Check], runs: tuple[_Run, ...]) -> CheckReport:
    checks = list(first)
    for run in runs:
        try:
            found = run(req)
        except Exception as exc:  # fail closed: a bug must never let a hostile request pass
            found = _failed("internal", f"a check could not run: {type(exc).__name__}: {exc}")
        if found is not None:
            checks.append(found)
    return CheckReport(tuple(checks), signers=req.signers)


def check_sign_request(
    ctx: SigningContext, tag: str, signed: t.SignedTx, updates: tuple[t.OffChainUpdate, ...]
) -> CheckReport:
    """Every check that applies to the sign request ``channels.sign.<tag>`` (module doc)."""
    if not isinstance(ctx, SigningContext) or not isinstance(signed, t.SignedTx):
        raise LocalProtocolError("a SigningContext and a SignedTx are required")
    if not isinstance(updates, tuple) or not all(isinstance(u, _UPDATES) for u in updates):
        raise LocalProtocolError("updates: a tuple of off-chain updates is required")
    found = operation_for_tag(tag) if isinstance(tag, str) else None
    if found is None:
        return CheckReport((_failed("tag", f"{encoding.short(str(tag))!r} is not a sign tag"),))
    row, own = found
    role = (Role.INITIATOR if own else Role.RESPONDER) if row.opens else ctx.role
    if role is not ctx.role:
        return CheckReport((_failed("tag", f"{tag} is for the {role.value}, not us"),))
    tx = _innermost(signed)
    checks = [_passed("tag", f"{tag}: {'our' if own else 'the peer'} operation")]
    kind, wanted = tx.TYPE, SIGN_TAGS[tag].tx_type
    if not isinstance(tx, row.tx_classes):
        version = f" v{tx.VERSION} (no longer valid)" if kind == wanted else ""
        checks.append(_failed("tx_type", f"{tag} carries a {wanted}, got {kind}{version}"))
        return CheckReport(tuple(checks))
    checks.append(_passed("tx_type", f"a {wanted}"))
    after, refused = None, None
    if isinstance(tx, _UPDATING) and ctx.latest:
        try:
            after = ctx.latest.state.apply(updates)
        except UpdateRefused as exc:
            refused = str(exc)
    req = _Request(
        ctx=ctx, signed=signed, tx=tx, tag=tag, updates=updates, after=after, refused=refused
    )
    return _run(req, checks, _REQUEST_CHECKS)


def check_co_signed_state(ctx: SigningContext, signed: t.SignedTx) -> CheckReport:
    """Whether a state from ``channels.update`` / ``channels.leave`` may become our latest: one
    we signed or know, every signature a participant's, both participants' there (a force
    progress: the forcer's)."""
    if not isinstance(ctx, SigningContext) or not isinstance(signed, t.SignedTx):
        raise LocalProtocolError("a SigningContext and a SignedTx are required")
    tx = _innermost(signed)
    if not isinstance(tx, _CO_SIGNED):
        return CheckReport((_failed("tx_type", f"a {tx.TYPE} is not a channel state"),))
    req = _Request(ctx=ctx, signed=signed, tx=tx)
    return _run(req, [_passed("tx_type", f"a {tx.TYPE}")], _CO_SIGNED_CHECKS)
