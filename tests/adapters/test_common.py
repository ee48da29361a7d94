"""What the adapters share, without a socket: backoff, settings, and the pump's decisions."""

from __future__ import annotations

import json
import ssl

import pytest

from sansio_channels import commands as cmd
from sansio_channels.adapters import (
    Backoff,
    ClosedWithoutMessage,
    ConnectionLost,
    Disconnected,
    FellBehind,
    Reconnected,
    Settings,
)
from sansio_channels.adapters._common import Pump
from sansio_channels.channel import Channel
from sansio_channels.errors import LocalProtocolError
from sansio_channels.events import Event, FsmUp
from sansio_channels.options import Role
from tests.scripted_node import INITIATOR, NETWORK, RESPONDER, ScriptedNode, ba, open_options

BASE = "ws://127.0.0.1:3014/channel"


def pump(**settings: object) -> Pump:
    channel = Channel(open_options(Role.INITIATOR), network_id=NETWORK)
    return Pump(channel, BASE, signer=INITIATOR, policy=None, settings=Settings(**settings))  # type: ignore[arg-type]


def fsm_up(fsm_id: str = ba(7), channel_id: str | None = None) -> str:
    return json.dumps(
        ScriptedNode(role=Role.INITIATOR, channel_id=channel_id).info("fsm_up", fsm_id=fsm_id)
    )


def drain(p: Pump, into: list[Event]) -> None:
    while (event := p.next_event()) is not None:
        into.append(event)


def test_backoff_grows_to_its_maximum_and_gives_up() -> None:
    backoff = Backoff(initial=0.5, factor=2.0, maximum=3.0, attempts=4)
    assert [backoff.delay(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, None]
    assert Backoff(attempts=None).delay(1000) == 30.0


@pytest.mark.parametrize(
    "bad", [{"ping_timeout": 0}, {"max_queued_events": 0}, {"ping_interval": -1.0}]
)
def test_settings_refuse_what_cannot_work(bad: dict[str, float]) -> None:
    with pytest.raises(LocalProtocolError, match=next(iter(bad))):
        Settings(**bad)  # type: ignore[arg-type]


def test_a_bad_base_url_fails_at_once() -> None:
    channel = Channel(open_options(Role.INITIATOR), network_id=NETWORK)
    with pytest.raises(LocalProtocolError, match="base"):
        Pump(channel, "http://node/channel", signer=None, policy=None, settings=Settings())


def test_wss_takes_the_default_context_unless_given_one() -> None:
    assert pump().ssl_context() is None
    channel = Channel(open_options(Role.INITIATOR), network_id=NETWORK)
    secure = Pump(channel, "wss://node/channel", signer=None, policy=None, settings=Settings())
    assert isinstance(secure.ssl_context(), ssl.SSLContext)


def test_a_close_before_any_message_is_not_retried() -> None:
    p = pump()
    p.opened()
    assert p.lost("1000 (OK)") is None
    with pytest.raises(ClosedWithoutMessage):
        p.next_event()


def test_a_channel_without_an_id_cannot_be_come_back_to() -> None:
    p = pump()
    p.opened()
    p.receive(fsm_up(), now=0.0)
    assert isinstance(p.next_event(), FsmUp)
    assert p.lost("dropped") is None  # before funding_signed the FSM dies with the socket
    with pytest.raises(Disconnected, match="no id or fsm id"):
        drain(p, [])


def test_a_lost_channel_comes_back_with_backoff_until_it_gives_up() -> None:
    p = pump(reconnect=Backoff(initial=1.0, factor=2.0, attempts=2))
    p.channel.channel_id = "ch_2TQAabM6NATotN8YgTPJKawXPtBW4q2dmmtAvrX9PYaS5ptPxk"
    p.opened()
    p.receive(fsm_up(), now=0.0)
    assert p.lost("dropped") == 1.0
    assert p.retry("refused") == 2.0
    p.opened()
    assert p.retry("refused") is None
    events: list[Event] = []
    with pytest.raises(Disconnected, match="gave up after 2 tries"):
        drain(p, events)
    assert ConnectionLost(reason="dropped", reconnecting=True) in events
    assert Reconnected(attempt=2) in events


def test_an_unsent_frame_stays_for_the_next_socket() -> None:
    p = pump()
    p.start(cmd.Message(to_id=RESPONDER.address, info="hi"))
    for _frame in p.outgoing():
        break  # its send failed
    (again,) = list(p.outgoing())
    assert json.loads(again)["method"] == "channels.message"
    assert list(p.outgoing()) == []


def test_a_full_queue_stops_the_client_after_what_it_holds() -> None:
    p = pump(max_queued_events=2)
    p.opened()
    for _ in range(3):
        p.receive(fsm_up(), now=0.0)
    assert p.finished
    assert p.next_event() is not None
    assert p.next_event() is not None
    with pytest.raises(FellBehind):
        p.next_event()
    p.receive(fsm_up(), now=1.0)  # nothing more is taken in
    with pytest.raises(FellBehind):
        p.start(cmd.Ping())
