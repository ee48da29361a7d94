"""The checks' fast paths against the plain ways they stand for: what the ledger keeps for the
checks' context (built by ``SigningContext.of_ledger``, without its validators) against it worked
out afresh, and what a request works out once against its properties.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sansio_channels import txs
from sansio_channels.checks import (
    _Request,
)
from sansio_channels.encoding import Id, IdTag
from sansio_channels.ledger import Ledger, Participants
from sansio_channels.offchain import OffChainState
from sansio_channels.operations import OPERATIONS, SIGN_TAGS
from sansio_channels.options import Role
from sansio_channels.signing_context import (
    LatestState,
    OperationKind,
    PendingOperation,
    SigningContext,
    named_participants,
)

from .scripted_node import opened, transfer_through
from .strategies import object_of


def _assert_fresh(ledger: Ledger, who: Participants, context: SigningContext) -> None:
    # What the ledger kept from an earlier context is what this one would be given afresh.
    fresh = None if ledger.latest is None else ledger._new_latest_state(who)
    assert context.latest == fresh
    named = named_participants(who.account, who.peer, fresh)
    assert context.participants() == list(named)
    assert context.peer_of() == SigningContext(
        network_id=context.network_id, role=context.role, account=context.account,
        peer=context.peer, latest=fresh,
    ).peer_of()  # fmt: skip


@pytest.mark.parametrize("role", [Role.INITIATOR, Role.RESPONDER])
def test_what_the_ledger_keeps_for_the_context_is_worked_out_afresh(
    role: Role, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through an open, own and peer's transfers, a stale latest state and a peer not known
    # then known: every context's latest state, participants and pending operation are the
    # ones worked out from scratch.
    built: list[SigningContext] = []
    context = Ledger.context

    def checked(ledger: Ledger, who: Participants, **values: Any) -> SigningContext:
        found = context(ledger, who, **values)
        _assert_fresh(ledger, who, found)
        built.append(found)
        return found

    monkeypatch.setattr(Ledger, "context", checked)
    channel, node = opened(role)
    for to_peer in (True, False, True):
        transfer_through(channel, node, to_peer=to_peer)
    own = [c.pending for c in built if c.pending is not None]
    assert own
    assert all(
        pending
        == PendingOperation(
            kind=OperationKind.TRANSFER,
            from_id=Id.from_api(node.ours.address),
            to_id=Id.from_api(node.peer.address),
            amount=1,
        )
        for pending in own
    )
    ledger, peer = channel.ledger, channel.peer
    for stale, named in ((True, peer), (True, None), (False, None), (False, peer)):
        ledger.stale, channel.peer = stale, named
        channel.signing_context()
    assert len(built) >= 10


_ACCOUNTS = [Id(IdTag.ACCOUNT, bytes([n]) * 32) for n in range(1, 4)]
_who = st.sampled_from(_ACCOUNTS)
_two = st.permutations(_ACCOUNTS).map(lambda accounts: (accounts[0], accounts[1]))


@given(
    _who,
    st.none() | _who,
    st.none() | _two,
    st.none() | st.tuples(_who, _who),
)
def test_the_peer_is_the_one_other_participant_as_before(
    account: Id,
    peer: Id | None,
    latest: tuple[Id, Id] | None,
    create: tuple[Id, Id] | None,
) -> None:
    # We come first among the participants, once: the others are the rest of them.
    state = None
    if latest is not None:
        balances = {who.key: 1 for who in latest}
        offchain = OffChainState(
            initiator=latest[0].key, responder=latest[1].key, balances=balances
        )
        state = LatestState(round=1, signed_tx=None, state=offchain)
    context = SigningContext(
        network_id="ae_test", role=Role.INITIATOR, account=account, peer=peer, latest=state
    )
    tx = None
    if create is not None:
        tx = txs.ChannelCreateTx(
            initiator_id=create[0], initiator_amount=1, responder_id=create[1],
            responder_amount=1, channel_reserve=0, lock_period=1, ttl=0, fee=1,
            initiator_delegate_ids=(), responder_delegate_ids=(), state_hash=bytes(32), nonce=1,
        )  # fmt: skip
    others = [p for p in context.participants(tx) if p != account]
    assert context.peer_of(tx) == (others[0] if len(others) == 1 else peer)


_updates = st.lists(
    st.one_of(*(object_of(kind) for kind in (txs.OffChainMeta, txs.OffChainTransfer))),
    max_size=3,
).map(tuple)


@given(st.sampled_from(["", *SIGN_TAGS]), _updates)
def test_what_a_request_works_out_once_is_what_its_properties_gave(
    tag: str, updates: tuple[txs.OffChainUpdate, ...]
) -> None:
    context = SigningContext(network_id="ae_test", role=Role.INITIATOR, account=_ACCOUNTS[0])
    tx = txs.SignedTx(signatures=(), transaction=txs.OffChainMeta(data=b""))
    request = _Request(ctx=context, signed=tx, tx=tx.transaction, tag=tag, updates=updates)
    peers = {row.ack_tag.tag for row in OPERATIONS if row.ack_tag is not None}
    assert request.own == (tag not in peers)
    assert request.non_meta == [u for u in updates if not isinstance(u, txs.OffChainMeta)]
    assert request.signers == {}
