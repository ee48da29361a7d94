"""The channel state machine against a scripted node: flows, commands, replies, the record."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels import crypto, txs
from sansio_channels.channel import DEFAULT_PING_INTERVAL, Channel
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import (
    Conflict,
    CoSignedState,
    FailureReason,
    FsmUp,
    MessageReceived,
    NodeError,
    OperationAccepted,
    OperationFailed,
    OperationQueued,
    OperationStarted,
    Pong,
    ProtocolViolation,
    QueryResult,
    StateChanged,
)
from sansio_channels.options import ReestablishOptions, Role
from sansio_channels.record import RECORD_VERSION, ChannelRecord
from sansio_channels.state import ChannelState
from sansio_channels.store import SQLiteStore, StoreError, record_key

from .scripted_node import (
    INITIATOR,
    NETWORK,
    RESPONDER,
    ScriptedNode,
    ba,
    feed,
    notification,
    open_options,
    opened,
    sign_requests,
)


def own_transfer(channel: Channel, node: ScriptedNode, amount: int = 5) -> None:
    """Our transfer to the peer, all the way to the co-signed state."""
    operation = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=amount)
    )
    (frame,) = channel.frames_to_send()
    assert frame["method"] == "channels.update.new"
    tx, updates = node.transfer(amount, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    assert request.operation == operation
    assert request.checks.ok, request.checks
    request.sign(node.ours)
    (reply,) = channel.frames_to_send()
    assert reply["method"] == "channels.update"
    events = feed(channel, node.update(node.co_signed(tx)))
    node.took(tx)
    assert OperationAccepted(operation=operation, round=tx.round) in events


@pytest.mark.parametrize("role", list(Role))
def test_open_flow_reaches_open_with_the_create_state(role: Role) -> None:
    channel, node = opened(role)
    assert channel.state is ChannelState.OPEN
    assert channel.channel_id == node.channel_id
    assert channel.fsm_id == ba(7)
    assert channel.ledger.latest is not None
    assert channel.ledger.latest.round == 1


def test_own_transfer_and_peer_transfer() -> None:
    channel, node = opened()
    own_transfer(channel, node, 5)
    tx, updates = node.transfer(3, to_peer=False)
    events = feed(
        channel, node.info("update"), node.sign_request("update_ack", node.peer_signed(tx), updates)
    )
    (request,) = sign_requests(events)
    assert request.operation is None
    assert request.checks.ok, request.checks
    request.sign(node.ours)
    (reply,) = channel.frames_to_send()
    assert reply["method"] == "channels.update_ack"
    signed = txs.decode_signed_tx(reply["params"]["signed_tx"])
    assert len(signed.signatures) == 2
    events = feed(channel, node.update(node.co_signed(tx)))
    (state,) = [e for e in events if isinstance(e, CoSignedState)]
    assert state.accepted
    assert state.round == 3
    assert state.balances == {
        INITIATOR.address: 1_000_000 - 10 - 5 + 3,
        RESPONDER.address: 500_000 + 10 + 5 - 3,
    }


def test_own_operations_run_one_at_a_time() -> None:
    channel, node = opened()
    first = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    events = list(channel.events())
    assert OperationStarted(operation=first) in events
    second = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=2)
    )
    assert OperationQueued(operation=second, ahead=1) in list(channel.events())
    (sent,) = channel.frames_to_send()
    # The node refuses the first (a request sent with an id gets its error by id).
    events = feed(
        channel,
        {
            "jsonrpc": "2.0",
            "id": sent["id"],
            "error": {
                "code": 3,
                "message": "Rejected",
                "data": [{"code": 1001, "message": "Insufficient balance"}],
                "request": {},
            },
        },
    )
    failed = [e for e in events if isinstance(e, OperationFailed)]
    assert failed == [
        OperationFailed(
            operation=first,
            reason=FailureReason.NODE_ERROR,
            detail="Insufficient balance",
            error_code=3,
        )
    ]
    (frame,) = channel.frames_to_send()
    assert frame["params"]["amount"] == 2
    assert channel.current_operation == second


def test_queries_by_id_and_by_reply_notification() -> None:
    channel, _ = opened()
    by_id = channel.submit(cmd.GetBalances(accounts=[INITIATOR.address]))
    (frame,) = channel.frames_to_send()
    events = feed(
        channel,
        {
            "jsonrpc": "2.0",
            "id": frame["id"],
            "result": [{"account": INITIATOR.address, "balance": 7}],
        },
    )
    assert (
        QueryResult(operation=by_id, result=[{"account": INITIATOR.address, "balance": 7}])
        in events
    )
    by_note = channel.submit(cmd.GetPoi(accounts=[INITIATOR.address]))
    channel.frames_to_send()
    events = feed(channel, notification("channels.get.poi.reply", {"poi": "pi_x"}))
    assert QueryResult(operation=by_note, result={"poi": "pi_x"}) in events
    # A reply that answers nothing is the node's fault, and changes nothing.
    events = feed(channel, notification("channels.get.poi.reply", {"poi": "pi_x"}))
    assert [type(e) for e in events] == [ProtocolViolation]


def test_error_without_id_is_matched_by_the_echoed_request() -> None:
    channel, node = opened()
    operation = channel.submit(cmd.GetContract(pubkey="ct_" + node.ours.address[3:]))
    (frame,) = channel.frames_to_send()
    echoed = {k: v for k, v in frame.items() if k != "id"}
    events = feed(
        channel,
        {
            "jsonrpc": "2.0",
            "id": None,
            "error": {
                "code": 3,
                "message": "Rejected",
                "data": [{"code": 100, "message": "Contract not found"}],
                "request": echoed,
            },
        },
    )
    (error,) = [e for e in events if isinstance(e, NodeError)]
    assert error.operation == operation
    assert error.data_codes == (100,)
    assert any(isinstance(e, OperationFailed) for e in events)


def test_conflict_fails_the_operation_and_kills_the_sign_request() -> None:
    channel, node = opened()
    operation = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    channel.frames_to_send()
    tx, updates = node.transfer(1, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    events = feed(
        channel,
        notification(
            "channels.conflict",
            {"channel_id": node.channel_id, "round": 1, "error_code": 2, "error_msg": "conflict"},
        ),
    )
    assert Conflict(round=1, error_code=2, error_msg="conflict") in events
    assert (
        OperationFailed(
            operation=operation, reason=FailureReason.CONFLICT, detail="conflict", error_code=2
        )
        in events
    )
    with pytest.raises(LocalProtocolError, match="no longer pending"):
        request.sign(node.ours)
    assert channel.frames_to_send() == []


def test_abort_and_what_cannot_be_aborted() -> None:
    channel, node = opened()
    operation = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    channel.frames_to_send()
    tx, updates = node.transfer(1, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    with pytest.raises(LocalProtocolError, match=r"not in 1\.\.65535"):
        request.abort(70000)
    request.abort(4)
    (frame,) = channel.frames_to_send()
    assert (frame["method"], frame["params"]) == ("channels.update", {"error": 4})
    events = feed(channel, node.info("aborted_update"))
    assert (
        OperationFailed(operation=operation, reason=FailureReason.ABORTED, detail="aborted")
        in events
    )
    fresh = Channel(open_options(Role.INITIATOR), network_id=NETWORK)
    create = ScriptedNode(role=Role.INITIATOR).build_create()
    feed(fresh, notification("channels.info", {"event": "fsm_up", "fsm_id": ba(1)}))
    (open_request,) = sign_requests(
        feed(
            fresh,
            notification(
                "channels.sign.initiator_sign",
                {
                    "signed_tx": txs.encode_tx(txs.SignedTx(signatures=(), transaction=create)),
                    "updates": [],
                },
            ),
        )
    )
    with pytest.raises(LocalProtocolError, match="cannot be aborted"):
        open_request.abort(4)


def test_respond_takes_only_the_offered_tx_signed_by_us() -> None:
    channel, node = opened()
    tx, updates = node.transfer(2, to_peer=False)
    (request,) = sign_requests(
        feed(channel, node.sign_request("update_ack", node.peer_signed(tx), updates))
    )
    other, _ = node.transfer(3, to_peer=False)
    with pytest.raises(LocalProtocolError, match="does not hold the tx"):
        request.respond(node.co_signed(other))
    with pytest.raises(LocalProtocolError, match="no valid signature"):
        request.respond(node.peer_signed(tx))
    with pytest.raises(LocalProtocolError, match="not a signed tx"):
        request.respond("tx_nonsense")
    with pytest.raises(LocalProtocolError, match="the signer is"):
        request.sign(node.peer)
    request.respond(txs.encode_tx(crypto.sign(request.signed_tx, node.ours, NETWORK)))
    assert len(channel.frames_to_send()) == 1


def test_messages_pings_and_the_keep_alive_timer() -> None:
    channel, node = opened()
    events = feed(
        channel,
        notification(
            "channels.message",
            {
                "message": {
                    "channel_id": node.channel_id,
                    "from": node.peer.address,
                    "to": node.ours.address,
                    "info": "hi",
                }
            },
        ),
    )
    assert MessageReceived(from_id=node.peer.address, to_id=node.ours.address, info="hi") in events
    assert channel.next_deadline() is None  # no activity seen with a time yet
    channel.receive_frame(
        notification("channels.system.pong", {"action": "system", "tag": "pong"}), now=100.0
    )
    assert list(channel.events()) == [Pong()]
    assert channel.next_deadline() == 100.0 + DEFAULT_PING_INTERVAL
    channel.handle_timer(101.0)
    assert channel.frames_to_send() == []
    channel.handle_timer(100.0 + DEFAULT_PING_INTERVAL)
    (ping,) = channel.frames_to_send()
    assert ping["params"] == {"action": "ping"}


def test_reconnect_reattaches_and_reestablish_restores() -> None:
    channel, node = opened()
    channel.connection_lost()
    assert not channel.connected
    channel.reconnect()
    assert isinstance(channel.options, ReestablishOptions)
    url = channel.connect_url("ws://localhost:3014/channel")
    assert f"existing_fsm_id={ba(7)}".replace("+", "%2B").replace("/", "%2F") in url
    events = feed(channel, node.info("fsm_up", fsm_id=ba(7)))
    assert FsmUp(fsm_id=ba(7), reconnected=True) in events
    assert channel.state.value == "open"
    assert channel.ledger.stale  # the FSM may have moved on while we were away
    # The FSM stops; a new one restores the channel from the node's cache.
    feed(channel, node.info("died"))
    assert channel.state is ChannelState.FSM_DOWN
    channel.connection_lost()
    channel.reconnect()
    events = feed(
        channel,
        node.info("fsm_up", fsm_id=ba(9)),
        node.info("channel_reestablished"),
        node.info("open"),
    )
    assert FsmUp(fsm_id=ba(9), reconnected=False) in events
    assert StateChanged(previous=ChannelState.REESTABLISHING, state=ChannelState.OPEN) in events
    assert channel.fsm_id == ba(9)


def test_record_round_trips_and_restores() -> None:
    channel, node = opened()
    own_transfer(channel, node, 5)
    record = channel.record()
    view = json.loads(json.dumps(record.to_json()))
    again = ChannelRecord.from_json(view)
    assert again == record
    assert "secret" not in json.dumps(view)
    restored = Channel.restore(again)
    assert restored.state is ChannelState.OPEN
    assert restored.ledger.latest is not None
    assert restored.ledger.latest.round == 2
    assert restored.record().balances == record.balances
    assert restored.peer == channel.peer
    assert "existing_channel_id" in restored.connect_url("ws://n:3014/channel")
    with pytest.raises(LocalProtocolError, match="not a channel record"):
        ChannelRecord.from_json({"version": 0})


# What version 2 added to version 1, with the value a record of version 1 reads with.
ADDED_IN_2: dict[str, object] = {
    "closing": None,
    "dispute": None,
    "dispute_info": None,
    "contracts": {},
    "signed_ahead_contracts": {},
    "abandoned": None,
}


def test_a_record_of_version_1_reads_with_defaults_and_is_written_as_2() -> None:
    channel, node = opened()
    own_transfer(channel, node, 5)
    record = channel.record()
    assert record.version == RECORD_VERSION == 2
    view = record.to_json()
    old = {k: v for k, v in view.items() if k not in ADDED_IN_2} | {"version": 1}
    read = ChannelRecord.from_json(old)
    assert read == record  # every added field at its default, as the channel had them
    assert read.version == 2
    assert read.to_json()["version"] == 2
    # A record of version 1 written after some fields were added keeps what it holds.
    later = old | {"abandoned": "the open stopped", "closing": None, "contracts": {"ct_1": "cb_1"}}
    kept = ChannelRecord.from_json(later)
    assert kept.abandoned == "the open stopped"
    assert kept.contracts == {"ct_1": "cb_1"}


def test_a_newer_record_is_refused_saying_so(tmp_path: Path) -> None:
    channel, _ = opened()
    view = channel.record().to_json() | {"version": 3, "what_3_adds": 1}
    with pytest.raises(LocalProtocolError, match=r"version 3, written by a newer sansio-channels"):
        ChannelRecord.from_json(view)
    for wrong in ("2", True, 2.0, None):
        with pytest.raises(LocalProtocolError, match="not a channel record"):
            ChannelRecord.from_json(channel.record().to_json() | {"version": wrong})
    with pytest.raises(LocalProtocolError, match="not a channel record"):
        ChannelRecord.from_json([])  # type: ignore[arg-type]
    # A store hands the same words on, naming the key.
    path, key = tmp_path / "s.sqlite3", record_key(channel.record())
    with SQLiteStore(path) as store:
        store.save(channel.record())
    with sqlite3.connect(path) as db:  # as a newer version of the library would write it
        db.execute("UPDATE channels SET record = ?", (json.dumps(view),))
    with (
        SQLiteStore(path) as store,
        pytest.raises(StoreError, match=f"under '{key}'.*newer sansio-channels.*upgrade"),
    ):
        store.load(key)


def test_restore_takes_only_what_the_record_does_not_fix() -> None:
    channel, _ = opened()
    record = channel.record()
    assert Channel.restore(record, ping_interval=None).ping_interval is None
    assert Channel.restore(record).ping_interval == DEFAULT_PING_INTERVAL
    # The network id and account are the record's: no keyword to contradict them.
    for fixed in ("network_id", "account"):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{fixed}'"):
            Channel.restore(record, **{fixed: "x"})  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match="ChannelRecord is required"):
        Channel.restore(record.to_json())  # type: ignore[arg-type]


def test_commands_are_checked_before_anything_is_queued() -> None:
    channel, node = opened()
    with pytest.raises(LocalProtocolError):
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=-1)
    with pytest.raises(LocalProtocolError, match="not a command"):
        channel.submit("transfer")  # type: ignore[arg-type]
    assert channel.frames_to_send() == []
    with pytest.raises(LocalProtocolError, match="network_id"):
        Channel(open_options(Role.INITIATOR), network_id="")


def test_an_unanswered_sign_request_is_abandoned_with_the_connection() -> None:
    channel, node = opened()
    operation = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    channel.frames_to_send()
    tx, updates = node.transfer(1, to_peer=True)
    (request,) = sign_requests(
        feed(
            channel,
            node.sign_request("update", txs.SignedTx(signatures=(), transaction=tx), updates),
        )
    )
    channel.connection_lost()
    with pytest.raises(LocalProtocolError, match="no longer pending"):
        request.sign(node.ours)
    channel.reconnect()
    feed(channel, node.info("fsm_up", fsm_id=ba(7)))  # reattached: what became of it?
    (query,) = channel.frames_to_send()
    assert query["method"] == "channels.get.offchain_state"
    events = feed(
        channel,
        {
            "jsonrpc": "2.0",
            "id": query["id"],
            "result": {"signed_tx": "", "trees": "", "calls": "", "half_signed_tx": ""},
        },
    )
    assert (
        OperationFailed(
            operation=operation,
            reason=FailureReason.CHANNEL_GONE,
            detail="its sign request was abandoned with the connection",
        )
        in events
    )
    assert channel.current_operation is None


def test_a_restarted_fsm_fails_the_operation_under_way() -> None:
    channel, node = opened()
    operation = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    channel.frames_to_send()
    channel.connection_lost()
    channel.reconnect()
    events = feed(channel, node.info("fsm_up", fsm_id=ba(8)))
    assert (
        OperationFailed(
            operation=operation,
            reason=FailureReason.CHANNEL_GONE,
            detail="the node's FSM restarted",
        )
        in events
    )


def test_a_responder_open_to_any_initiator_learns_it_from_the_create_tx() -> None:
    options = attrs.evolve(open_options(Role.RESPONDER), initiator_id="any")
    channel = Channel(options, network_id=NETWORK)
    assert channel.record().peer is None
    node = ScriptedNode(role=Role.RESPONDER)
    create = node.build_create()
    node.channel_id = crypto.channel_id(create).api
    events = feed(
        channel,
        node.info("fsm_up", fsm_id=ba(4)),
        node.info("channel_open"),
        node.sign_request("responder_sign", node.peer_signed(create)),
    )
    (request,) = sign_requests(events)
    assert channel.peer is not None
    assert channel.peer.api == INITIATOR.address
    assert request.safe, request.checks
    request.sign(RESPONDER)
    assert len(channel.frames_to_send()) == 1


def test_notices_and_queries_fail_when_the_connection_goes() -> None:
    channel, node = opened()
    message = channel.submit(cmd.Message(to_id=node.peer.address, info="hi"))
    query = channel.submit(cmd.GetBalances(accounts=[INITIATOR.address]))
    transfer = channel.submit(
        cmd.Transfer(from_id=node.ours.address, to_id=node.peer.address, amount=1)
    )
    channel.frames_to_send()
    list(channel.events())
    channel.connection_lost()
    failed = {e.operation for e in channel.events() if isinstance(e, OperationFailed)}
    assert failed == {message, query}
    assert channel.current_operation == transfer  # the node may still complete it
