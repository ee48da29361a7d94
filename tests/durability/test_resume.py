"""Resuming from a stored record: the node a round ahead of the store, or holding a round we
signed that never reached it; what the pump stores and when; resume_all."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from sansio_channels import commands as cmd
from sansio_channels.adapters._common import Pump, Settings
from sansio_channels.adapters.sync import ChannelClient
from sansio_channels.channel import Channel
from sansio_channels.crypto import inner_tx
from sansio_channels.events import OffChainStateFetched, OperationAccepted, SignRequest
from sansio_channels.policy import DefaultPolicy
from sansio_channels.record import ChannelRecord
from sansio_channels.simulator.harness import Pair, Participant
from sansio_channels.state import ChannelState
from sansio_channels.store import SQLiteStore, record_key
from sansio_channels.txs import ChannelCloseMutualTx, decode_signed_tx


def stored(record: ChannelRecord) -> ChannelRecord:
    """The record as a store gives it back (through JSON)."""
    return ChannelRecord.from_json(json.loads(json.dumps(record.to_json())))


def open_pair() -> Pair:
    pair = Pair.open(timeouts={"sign": 1000})
    pair.run()
    assert pair.initiator.channel.state is ChannelState.OPEN
    return pair


def transfer(pair: Pair, amount: int) -> None:
    alice, bob = pair.initiator, pair.responder
    alice.channel.submit(cmd.Transfer(from_id=alice.address, to_id=bob.address, amount=amount))


def write_ahead_and_crash(pair: Pair, *, signature_leaves: bool) -> ChannelRecord:
    """Alice signs her transfer; the record written ahead of the signature is what survives.
    With ``signature_leaves`` her reply reaches the node (and bob co-signs) before she dies."""
    alice = pair.initiator
    kept: list[ChannelRecord] = []

    def sign_and_store(request: SignRequest) -> None:
        request.sign(alice.keys)
        kept.append(stored(alice.channel.record()))  # what the pump saves before sending
        if not signature_leaves:
            alice.channel.frames_to_send()  # the process dies before the frame is sent

    alice.intercept = sign_and_store
    transfer(pair, 10)
    pair.run()
    pair.drop(alice)
    pair.run()
    alice.intercept = None
    (record,) = kept
    return record


def resume(pair: Pair, record: ChannelRecord) -> Participant:
    alice = pair.initiator
    alice.channel = Channel.restore(record, ping_interval=None)
    alice.events.clear()
    pair.reconnect(alice)
    pair.run()
    return alice


def signing(side: Participant) -> list[SignRequest]:
    """``side`` signs every request it gets; the list fills with them."""
    requests: list[SignRequest] = []

    def sign(request: SignRequest) -> None:
        requests.append(request)
        request.sign(side.keys)

    side.intercept = sign
    return requests


def node_latest(pair: Pair, side: Participant) -> int:
    (fsm,) = [f for f in pair.sim.fsms if f.role is side.channel.role]
    assert fsm.latest is not None
    return fsm.latest.round


def test_the_node_one_round_ahead_of_the_store() -> None:
    """The crash came after our signature left and before the co-signed state came back:
    the store holds round N and what we signed for N+1; the node and the peer are at N+1."""
    pair = open_pair()
    before = pair.initiator.channel.ledger.latest
    assert before is not None
    record = write_ahead_and_crash(pair, signature_leaves=True)
    assert record.latest_round == before.round
    assert set(record.signed_ahead) == {before.round + 1}
    assert node_latest(pair, pair.initiator) == before.round + 1

    alice = resume(pair, record)
    (fetched,) = alice.events_of(OffChainStateFetched)
    assert fetched.verified
    resumed = alice.channel.record()
    bob = pair.responder.channel.record()
    assert resumed.latest_round == bob.latest_round == before.round + 1
    assert resumed.latest_state == bob.latest_state
    assert resumed.balances == bob.balances
    assert resumed.signed_ahead == {}

    # And the channel goes on: the next request passes every check, so a policy signs it.
    requests = signing(alice)
    transfer(pair, 5)
    pair.run()
    assert DefaultPolicy().decide(requests[0], alice.address).value == "sign"
    assert alice.events_of(OperationAccepted)[-1].round == before.round + 2


def test_a_round_signed_ahead_that_never_left_is_forgotten() -> None:
    """The crash came after the write-ahead, before the signature left: the node never got
    it, rolls the update back on its sign timer and reuses the round; the resumed client
    signs the new state for that round instead of refusing it as a second one."""
    pair = open_pair()
    before = pair.initiator.channel.ledger.latest
    assert before is not None
    record = write_ahead_and_crash(pair, signature_leaves=False)
    assert set(record.signed_ahead) == {before.round + 1}
    pair.advance(2.0)  # the node's sign timer: rolled back
    assert node_latest(pair, pair.initiator) == before.round

    alice = resume(pair, record)
    assert alice.channel.record().signed_ahead == {}
    requests = signing(alice)
    transfer(pair, 7)  # a different state for the same round
    pair.run()
    assert requests[0].checks.ok, requests[0].checks.failed
    assert alice.events_of(OperationAccepted)[-1].round == before.round + 1
    assert alice.channel.record().balances == pair.responder.channel.record().balances


class RecordingStore:
    """A store that remembers the order of saves, for the write-ahead test."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.saved: dict[str, ChannelRecord] = {}

    def save(self, record: ChannelRecord, *, replaces: str | None = None) -> None:
        if replaces is not None:
            self.log.append(f"save replacing {replaces.split(':')[0]}")
            del self.saved[replaces]
        self.log.append(f"save {sorted(record.signed_ahead)}")
        self.saved[record_key(record)] = record

    def load(self, key: str) -> ChannelRecord | None:
        return self.saved.get(key)

    def records(self) -> list[ChannelRecord]:
        return list(self.saved.values())

    def delete(self, key: str) -> None:
        self.log.append(f"delete {key.split(':')[0]}")
        del self.saved[key]


def test_the_pump_saves_what_we_signed_before_the_signature_is_handed_over() -> None:
    pair = open_pair()
    alice = pair.initiator
    log: list[str] = []
    store = RecordingStore(log)
    pump = Pump(
        alice.channel,
        "ws://node/channel",
        signer=alice.keys,
        policy=None,
        settings=Settings(),
        store=store,
    )
    round_ = alice.channel.ledger.latest.round if alice.channel.ledger.latest else 0
    pump.start(cmd.Transfer(from_id=alice.address, to_id=pair.responder.address, amount=3))
    assert alice.connection is not None
    for text in pump.outgoing():  # the update request
        pair.sim.receive_text(alice.connection, text)
    for frame in pair.sim.frames_for(alice.connection):  # the sign request: the policy signs
        pump.receive(json.dumps(frame), now=1.0)
    for text in pump.outgoing():
        if '"signed_tx"' in text:
            log.append("signature handed to the transport")
        pair.sim.receive_text(alice.connection, text)
    connection, alice.connection = alice.connection, None  # bob co-signs; alice is the pump's
    pair.run()
    for frame in pair.sim.frames_for(connection):
        pump.receive(json.dumps(frame), now=2.0)
    ahead = f"save [{round_ + 1}]"
    assert log.index(ahead) < log.index("signature handed to the transport")
    assert log[-1] == "save []"  # the co-signed state, stored as it arrived
    (kept,) = store.records()
    assert kept.latest_round == round_ + 1


def test_the_pump_moves_an_opening_record_to_its_channel_id_in_one_save() -> None:
    """One call (one transaction in a real store): a crash cannot leave the opening record
    beside the one under the channel id."""
    pair = Pair.open()
    log: list[str] = []
    store = RecordingStore(log)
    alice = pair.initiator
    pump = Pump(
        alice.channel,
        "ws://node/channel",
        signer=None,
        policy=None,
        settings=Settings(),
        store=store,
    )

    def sign(request: SignRequest) -> None:
        pump._persist()  # the opening record: no channel id yet
        request.sign(alice.keys)
        pump._persist()  # the create tx we signed names the channel

    alice.intercept = sign
    pair.run()
    assert log == ["save []", "save replacing opening", "save [1]"]
    (kept,) = store.records()
    assert record_key(kept) == f"{kept.known_channel_id()}:initiator"


def test_resume_all_comes_back_to_every_live_channel_in_the_store(tmp_path: Path) -> None:
    pair = open_pair()
    record = pair.initiator.channel.record()
    closed = pair.responder.channel.record()
    with SQLiteStore(tmp_path / "s.sqlite3") as store:
        store.save(record)
        store.save(attrs.evolve(closed, state=ChannelState.CLOSED.value))
        clients = ChannelClient.resume_all("ws://127.0.0.1:1/channel", store)
    assert len(clients) == 1, [c.channel.role for c in clients]
    (client,) = clients
    assert client.channel.channel_id == record.channel_id
    assert client.channel.restored_from == record
    assert "existing_fsm_id" in client._pump.url


@pytest.mark.parametrize("create_signed", [True, False])
def test_an_opening_record_is_resumable_once_our_create_tx_signature_is_written(
    create_signed: bool,
) -> None:
    pair = Pair.open()
    records: list[ChannelRecord] = []

    def sign(request: SignRequest) -> None:
        if create_signed:
            request.sign(pair.initiator.keys)
        records.append(stored(pair.initiator.channel.record()))

    pair.initiator.intercept = sign
    pair.run()
    record = records[0]
    assert record.channel_id is None
    assert record.resumable is create_signed
    if create_signed:
        assert record_key(record) == f"{record.known_channel_id()}:initiator"
        assert Channel.restore(record).channel_id == record.known_channel_id()
    else:
        assert record_key(record).startswith("opening:initiator:")


def test_what_we_signed_ahead_comes_back_with_its_balances() -> None:
    """So that the same state, co-signed after a reestablish, is taken with its balances."""
    pair = open_pair()
    record = write_ahead_and_crash(pair, signature_leaves=True)
    ((round_, balances),) = record.signed_ahead_balances.items()
    assert sum(balances.values()) == sum((record.balances or {}).values())
    restored = Channel.restore(record).ledger.signed_rounds[round_]
    assert restored.tx == record.signed_ahead[round_]
    assert restored.state is not None
    assert restored.state.balances is not None
    assert sorted(restored.state.balances.values()) == sorted(balances.values())


def test_the_mutual_close_we_signed_is_in_the_record_before_the_signature_leaves() -> None:
    """A close tx has no round: the record keeps it apart, written ahead, and a restored
    channel still has it (the tx to look for on chain if the node closed while we were away)."""
    pair = open_pair()
    alice, bob = pair.initiator, pair.responder
    held: list[SignRequest] = []
    alice.intercept = held.append
    assert alice.channel.record().closing is None
    alice.channel.submit(cmd.Shutdown())
    pair.run()
    (request,) = held
    assert request.tag.tag == "shutdown_sign"
    request.sign(alice.keys)  # the reply is queued, not sent
    record = stored(alice.channel.record())
    assert record.closing is not None
    closing = decode_signed_tx(record.closing)
    assert isinstance(inner_tx(closing), ChannelCloseMutualTx)
    assert inner_tx(closing).serialize() == inner_tx(request.signed_tx).serialize()
    assert Channel.restore(record).record().closing == record.closing
    pair.run()
    assert alice.channel.state is ChannelState.CLOSED
    closed_by_bob = bob.channel.record().closing
    assert closed_by_bob is not None
    assert inner_tx(decode_signed_tx(closed_by_bob)) == inner_tx(closing)
