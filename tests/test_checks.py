"""Checks before signing: every recorded sign request passes, every doctored one is refused.

The recorded sessions give real requests: a client's view of each channel is replayed from a
recording (its open options, the states it signed, the co-signed states it received, the
operations it asked for), and every sign request and co-signed state in it must pass its
checks, or be NOT_CHECKED with a reason. Doctored requests, built with real keys where a
signature is needed, must each fail the check that names what is wrong.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import encoding
from sansio_channels.checks import (
    Check,
    CheckReport,
    LatestState,
    OperationKind,
    Outcome,
    PendingOperation,
    SigningContext,
    check_co_signed_state,
    check_sign_request,
    derived_channel_id,
)
from sansio_channels.crypto import KeyPair, add_signature, inner_tx, sign
from sansio_channels.encoding import Id, IdTag
from sansio_channels.errors import ChannelError, LocalProtocolError
from sansio_channels.offchain import OffChainState, updates_from_json
from sansio_channels.options import OpenOptions, Role
from sansio_channels.rpc import SIGN_TAGS, sign_tag_for_reply
from sansio_channels.txs import (
    ChannelCloseMutualTx,
    ChannelCreateTx,
    ChannelCreateTxV1,
    ChannelDepositTx,
    ChannelOffChainTx,
    ChannelSettleTx,
    ChannelSnapshotSoloTx,
    OffChainMeta,
    OffChainTransfer,
    SignedTx,
    decode_signed_tx,
)

from .recordings import entries, network_id
from .strategies import objects
from .test_offchain import channel_groups, open_options

# --- a client's view of a channel, replayed from a recording -----------------------------

# Commands that start an own operation: method -> (kind, param -> PendingOperation field).
_ID_PARAMS = {"from": "from_id", "to": "to_id", "contract_id": "contract_id"}
OPERATIONS: dict[str, OperationKind] = {
    "channels.update.new": OperationKind.TRANSFER,
    "channels.update.new_contract": OperationKind.NEW_CONTRACT,
    "channels.update.call_contract": OperationKind.CALL_CONTRACT,
    "channels.deposit": OperationKind.DEPOSIT,
    "channels.withdraw": OperationKind.WITHDRAW,
    "channels.shutdown": OperationKind.SHUTDOWN,
    "channels.close_solo": OperationKind.CLOSE_SOLO,
    "channels.slash": OperationKind.SLASH,
    "channels.settle": OperationKind.SETTLE,
    "channels.snapshot_solo": OperationKind.SNAPSHOT_SOLO,
    "channels.force_progress": OperationKind.FORCE_PROGRESS,
}


def pending_operation(method: str, params: Any) -> PendingOperation | None:
    """What a recorded command asked for; None when the node would refuse the command."""
    values: dict[str, Any] = {}
    try:
        for name, value in (params or {}).items():
            if name in _ID_PARAMS:
                values[_ID_PARAMS[name]] = Id.from_api(value)
            elif name in ("code", "call_data"):
                values[name] = encoding.decode(value, "cb")
            elif name == "meta":
                values[name] = [item.encode() for item in value]
            elif name != "block_hash":
                values[name] = value
        return PendingOperation(kind=OPERATIONS[method], **values)
    except (ChannelError, TypeError, AttributeError):
        return None


@attrs.define
class View:
    """What one participant's client knows about its channel, as the channel layer keeps it."""

    network: str
    role: Role
    options: OpenOptions | None = None
    channel_id: Id | None = None
    latest: LatestState | None = None
    signed_rounds: dict[int, bytes] = attrs.Factory(dict)
    pending: PendingOperation | None = None
    # The state each request we checked leads to, by its inner tx bytes.
    proposed: dict[bytes, OffChainState | None] = attrs.Factory(dict)
    offered: dict[str, SignedTx] = attrs.Factory(dict)  # the request of each tag, last seen

    @property
    def account(self) -> Id:
        assert self.options is not None
        return Id.account(getattr(self.options, f"{self.role.value}_id"))

    def context(self) -> SigningContext:
        peer_role = "responder" if self.role is Role.INITIATOR else "initiator"
        return SigningContext(
            network_id=self.network,
            role=self.role,
            account=self.account,
            peer=Id.account(getattr(self.options, f"{peer_role}_id")),
            channel_id=self.channel_id,
            options=self.options,
            latest=self.latest,
            signed_rounds=self.signed_rounds,
            pending=self.pending,
        )

    def leads_to(self, signed: SignedTx, updates: tuple[Any, ...]) -> OffChainState | None:
        tx = inner_tx(signed)
        if isinstance(tx, (ChannelCreateTx, ChannelCreateTxV1)) and self.options:
            return OffChainState.initial(self.options, initiator_id=tx.initiator_id)
        if self.latest is None or not hasattr(tx, "round"):
            return None
        try:
            return self.latest.state.apply(updates)
        except ChannelError:
            return None


@attrs.frozen
class Seen:
    where: str
    what: str  # the sign tag, or "co-signed"
    report: CheckReport


class Replay:
    """Replays each recorded channel from both clients' side, checking as it goes."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.forgotten_rounds = 0  # signed rounds a conflict cancelled

    def run(self, groups: list[list[str]]) -> None:
        for files in groups:
            views: dict[str, View] = {}
            for rel in files:
                # INDEX.md names no network for files with no signature to verify.
                network = network_id(rel) or "no signatures recorded"
                for entry in entries(rel):
                    view = views.setdefault(entry.role, View(network, Role(entry.role)))
                    self.step(view, f"{rel}:{entry.line}", entry)

    def step(self, view: View, where: str, entry: Any) -> None:
        kind = entry.kind.name
        if kind == "CONNECT":
            self.connect(view, entry.text)
            return
        if kind not in ("RECEIVED", "SENT") or not isinstance(entry.frame, dict):
            return
        frame = entry.frame
        method, params = frame.get("method", ""), frame.get("params")
        if view.options is None:
            return
        if kind == "SENT":
            self.sent(view, method, params)
        elif method.startswith("channels.sign."):
            self.sign_request(view, where, method.removeprefix("channels.sign."), params)
        elif method in ("channels.update", "channels.leave") and "state" in params["data"]:
            self.co_signed(view, where, decode_signed_tx(params["data"]["state"]))
        elif method == "channels.conflict":
            # The node rolled back to the last valid round: the cancelled rounds are free again.
            rolled_back = params["data"]["round"]
            cancelled = [r for r in view.signed_rounds if r > rolled_back]
            self.forgotten_rounds += len(cancelled)
            for round_ in cancelled:
                del view.signed_rounds[round_]
            view.pending = None
        if method == "channels.info" and params.get("channel_id"):
            view.channel_id = Id.from_api(params["channel_id"])

    def connect(self, view: View, url: str) -> None:
        opened = open_options(url)
        if opened is not None:
            view.__init__(view.network, view.role, options=opened)  # type: ignore[misc]
            return
        existing = parse_qs(urlsplit(url).query).get("existing_channel_id")
        if existing:
            view.channel_id = Id.from_api(existing[0])

    def sent(self, view: View, method: str, params: Any) -> None:
        if method in OPERATIONS:
            view.pending = pending_operation(method, params)
        row = sign_tag_for_reply(method)
        if row is not None and isinstance(params, dict) and "signed_tx" in params:
            request = view.offered.get(row.tag)
            if request is not None:
                tx = inner_tx(request)
                round_ = 1 if isinstance(tx, (ChannelCreateTx, ChannelCreateTxV1)) else None
                round_ = getattr(tx, "round", round_)
                if round_ is not None:
                    view.signed_rounds[round_] = tx.serialize()

    def sign_request(self, view: View, where: str, tag: str, params: Any) -> None:
        signed = decode_signed_tx(params["data"]["signed_tx"])
        updates = updates_from_json(params["data"]["updates"])
        self.seen.append(Seen(where, tag, check_sign_request(view.context(), tag, signed, updates)))
        view.offered[tag] = signed
        view.proposed[inner_tx(signed).serialize()] = view.leads_to(signed, updates)
        if params.get("channel_id"):
            view.channel_id = Id.from_api(params["channel_id"])

    def co_signed(self, view: View, where: str, signed: SignedTx) -> None:
        self.seen.append(Seen(where, "co-signed", check_co_signed_state(view.context(), signed)))
        tx = inner_tx(signed)
        state = view.proposed.get(tx.serialize())
        if state is None and view.latest is not None and view.latest.signed_tx == signed:
            state = view.latest.state
        if state is None:  # not a state we computed: its balances are unknown to us
            assert view.latest is not None
            state = attrs.evolve(view.latest.state, balances=None)
        round_ = 1 if isinstance(tx, (ChannelCreateTx, ChannelCreateTxV1)) else tx.round  # type: ignore[attr-defined]
        view.latest = LatestState(round=round_, signed_tx=signed, state=state)
        if view.channel_id is None:
            view.channel_id = derived_channel_id(signed)
        view.pending = None


@pytest.fixture(scope="module")
def replay() -> Replay:
    found = Replay()
    found.run(channel_groups())
    return found


def test_every_recorded_request_passes_its_checks(
    replay: Replay, record_property: Callable[[str, object], None]
) -> None:
    failures = [
        f"{seen.where} {seen.what}: {check.name}: {check.detail}"
        for seen in replay.seen
        for check in seen.report.failed
    ]
    assert failures == []
    outcomes: Counter[tuple[str, str]] = Counter(
        (check.name, check.outcome.value) for seen in replay.seen for check in seen.report
    )
    requests = sum(seen.what != "co-signed" for seen in replay.seen)
    summary = (
        f"{requests} sign requests and {len(replay.seen) - requests} co-signed states checked, "
        f"none failed; {replay.forgotten_rounds} signed rounds freed by conflicts; "
        f"outcomes: {dict(sorted(outcomes.items()))}"
    )
    print(summary)
    record_property("checks_over_recordings", summary)
    # Every tag the protocol has was seen, and the central checks did run.
    assert {seen.what for seen in replay.seen} >= set(SIGN_TAGS)
    for name in ("state_hash", "round", "own_operation", "final_amounts", "payload"):
        assert outcomes[(name, "passed")] > 0, name
    # Whatever could not be checked says why.
    assert all(c.detail for seen in replay.seen for c in seen.report.not_checked)
