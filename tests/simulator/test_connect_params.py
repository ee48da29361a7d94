"""A connect URL as the node reads it: what it ignores, and how it refuses.

The refusals are the ones the recordings show (``sc_ws_broken_open_params.md`` and the seed
recording of a reconnect): an error frame with code 3 "Rejected" and the node's data code,
then the close. A bad value the node closes on without a word gets no frame here either, but
the simulator names it in the close frame's reason.
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from sansio_channels.commands import Leave, Transfer
from sansio_channels.events import OperationAccepted
from sansio_channels.options import Role
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import BASE_URL, Pair, keypair, open_options
from sansio_channels.simulator.params import READ_ON_OPEN, READ_ON_REESTABLISH, query, read
from sansio_channels.simulator.server import SimulatorServer
from sansio_channels.state import ChannelState

ALICE, BOB = keypair("params alice"), keypair("params bob")
UNKNOWN = "ak_11111111111111111111111111111115rHyByZ"  # the recordings' unknown account


def open_params(role: Role, /, **changes: Any) -> dict[str, str]:
    params = open_options(role, ALICE, BOB, port=4100).query_params()
    params.update({name: str(value) for name, value in changes.items()})
    return params


def url_of(params: dict[str, str]) -> str:
    return f"{BASE_URL}?{urllib.parse.urlencode(params)}"


def refused(url: str, sim: Simulator | None = None) -> list[dict[str, Any]]:
    sim = Simulator(accounts={ALICE.address: 10**20, BOB.address: 10**20}) if sim is None else sim
    connection = sim.connect(url)
    sent = sim.frames_for(connection)
    assert sim.is_closed(connection)
    return sent


def rejected(code: int, message: str) -> dict[str, Any]:
    """The node's frame for a refused connect, as recorded."""
    return {
        "jsonrpc": "2.0",
        "version": 1,
        "channel_id": None,
        "id": None,
        "error": {
            "code": 3,
            "message": "Rejected",
            "data": [{"code": code, "message": message}],
            "request": {},
        },
    }


# --- the refusals the recordings show ---------------------------------------------------------


@pytest.mark.parametrize("role", [Role.INITIATOR, Role.RESPONDER])
@pytest.mark.parametrize("who", ["initiator_id", "responder_id"])
def test_an_unknown_participant_is_refused_with_1011(role: Role, who: str) -> None:
    sent = refused(url_of(open_params(role, **{who: UNKNOWN})))
    assert sent == [rejected(1011, "Participant not found")]


@pytest.mark.parametrize("role", [Role.INITIATOR, Role.RESPONDER])
@pytest.mark.parametrize(
    "change",
    [
        {"initiator_amount": -1},
        {"responder_amount": -1},
        {"initiator_amount": -1, "responder_amount": -1},
        {"channel_reserve": -1},
        {"push_amount": -1},
        {"lock_period": -1},
        # Amounts that leave a side below the reserve after the push.
        {"channel_reserve": 10**18 + 1},
    ],
)
def test_a_value_too_low_is_refused_with_105(role: Role, change: dict[str, int]) -> None:
    sent = refused(url_of(open_params(role, **change)))
    assert sent == [rejected(105, "Value too low")]


def reestablish_params(pair: Pair) -> dict[str, str]:
    alice = pair.initiator
    alice.channel.submit(Leave())
    pair.run()
    alice.channel.reconnect()
    return query(alice.channel.connect_url(BASE_URL))


def left_pair() -> Pair:
    pair = Pair.open(initiator_keys=ALICE, responder_keys=BOB)
    pair.run()
    return pair


def test_a_reestablish_without_an_fsm_id_is_refused_with_2000() -> None:
    pair = left_pair()
    params = reestablish_params(pair)
    del params["existing_fsm_id"]
    sent = refused(url_of(params), pair.sim)
    assert sent == [rejected(2000, "Missing field: existing_fsm_id")]


@pytest.mark.parametrize(
    "fsm_id",
    ["Invalid", "ba_HyQuD1U6unjpal8v", "ba_u5RQ29E7CrnVX6d8Bzm5lRLLnNrZxWWDsI8uocwZ1UYM503C"],
)
def test_a_bad_or_wrong_fsm_id_is_refused_with_1016(fsm_id: str) -> None:
    """Not base58/base64, too short, and well formed but not this channel's FSM."""
    pair = left_pair()
    params = reestablish_params(pair)
    params["existing_fsm_id"] = fsm_id
    sent = refused(url_of(params), pair.sim)
    assert sent == [rejected(1016, "Invalid fsm id")]


def test_the_server_sends_the_refusal_then_closes() -> None:
    async def run() -> tuple[Any, int | None]:
        sim = Simulator(accounts={ALICE.address: 10**20, BOB.address: 10**20})
        async with SimulatorServer(sim, port=0) as server:
            url = f"{server.url()}?{urllib.parse.urlencode(open_params(Role.RESPONDER))}"
            url = url.replace(urllib.parse.quote(BOB.address), UNKNOWN)
            async with connect(url) as socket:
                frame = json.loads(await socket.recv())
                with pytest.raises(ConnectionClosed):
                    await socket.recv()
                return frame, socket.close_code

    frame, code = asyncio.run(run())
    assert frame == rejected(1011, "Participant not found")
    assert code == 1000


# --- what the node closes on without a word ---------------------------------------------------


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"initiator_amount": "ten"}, "initiator_amount"),
        ({"port": "x"}, "port"),
        ({"protocol": "legacy"}, "protocol"),
        ({"role": "observer"}, "role"),
        ({"minimum_depth_strategy": "fast"}, "minimum_depth_strategy"),
    ],
)
def test_a_bad_value_closes_without_a_frame_and_the_reason_names_it(
    change: dict[str, str], named: str
) -> None:
    sim = Simulator()
    connection = sim.connect(url_of(open_params(Role.RESPONDER, **change)))
    assert sim.frames_for(connection) == []
    assert sim.is_closed(connection)
    reason = sim.close_reason(connection)
    assert reason is not None
    assert named in reason


def test_the_server_puts_the_reason_in_the_close_frame() -> None:
    async def run() -> tuple[int | None, str | None]:
        async with SimulatorServer(Simulator(), port=0) as server:
            params = open_params(Role.RESPONDER, initiator_amount="ten")
            async with connect(f"{server.url()}?{urllib.parse.urlencode(params)}") as socket:
                with pytest.raises(ConnectionClosed):
                    await socket.recv()
                return socket.close_code, socket.close_reason

    code, reason = asyncio.run(run())
    assert code == 1008
    assert reason is not None
    assert "initiator_amount" in reason


# --- what the node ignores --------------------------------------------------------------------


def test_an_open_ignores_what_the_node_does_not_read() -> None:
    pair = Pair.open(initiator_keys=ALICE, responder_keys=BOB)
    extra = {"reestablish": "false", "my_app_tag": "7", "offchain_tx": "tx_whatever", "debug": "1"}
    for side in pair.participants:
        params = {**query(side.channel.connect_url(BASE_URL)), **extra}
        side.connection = pair.sim.connect(url_of(params))
    pair.run()
    assert pair.initiator.channel.state is ChannelState.OPEN
    assert pair.responder.channel.state is ChannelState.OPEN


def test_a_reestablish_with_every_open_param_and_reestablish_true_comes_back() -> None:
    """What the JavaScript SDK sends: the open's parameters, the ids, ``reestablish=true``."""
    pair = left_pair()
    alice, bob = pair.initiator, pair.responder
    params = reestablish_params(pair)
    sdk = {**open_params(Role.INITIATOR), **params, "reestablish": "true"}
    assert {"initiator_amount", "offchain_tx"} - sdk.keys() == {"offchain_tx"}
    alice.connection = pair.sim.connect(url_of({**sdk, "offchain_tx": "tx_ignored"}))
    pair.run()
    assert alice.channel.state is ChannelState.OPEN
    alice.channel.submit(Transfer(from_id=alice.address, to_id=bob.address, amount=3))
    pair.run()
    assert alice.events_of(OperationAccepted)[-1].round == 2


def test_what_the_node_reads() -> None:
    """The table docs/simulator.md lists; an open's amounts mean nothing to a reestablish."""
    assert "initiator_amount" in READ_ON_OPEN
    assert "initiator_amount" not in READ_ON_REESTABLISH
    assert {"existing_channel_id", "existing_fsm_id"} <= READ_ON_REESTABLISH - READ_ON_OPEN
    assert not {"offchain_tx", "reestablish"} & (READ_ON_OPEN | READ_ON_REESTABLISH)


def test_a_name_given_twice_is_read_once_the_first() -> None:
    assert query("ws://h/channel?role=responder&role=initiator") == {"role": "responder"}
    options = read(query(url_of(open_params(Role.RESPONDER)) + "&port=1"))
    assert options.port == 4100


def test_an_empty_block_hash_window_falls_back_to_the_defaults() -> None:
    """The client's parser refuses it; the node (and the simulator) use the defaults."""
    params = open_params(Role.RESPONDER, bh_delta_not_older_than=1, bh_delta_pick=5)
    options = read(params)
    assert options.bh_delta_not_older_than is None
    assert options.bh_delta_pick is None
    kept = read(open_params(Role.RESPONDER, bh_delta_not_older_than=20, bh_delta_pick=5))
    assert (kept.bh_delta_not_older_than, kept.bh_delta_pick) == (20, 5)
