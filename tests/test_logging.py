"""The library's log: loggers under ``sansio_channels``, what they record, and never a secret.

The core (the channel, its checks and ledger, the chain objects) logs nothing; the adapters,
the policy's answers and the command line do (docs/logging.md).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import logging
import socket
import time
from pathlib import Path

import base58
import pytest

import sansio_channels
from sansio_channels import crypto, encoding, txs
from sansio_channels.adapters import ConnectFailed, sync
from sansio_channels.cli.demo import ServerThread, options, run_demo
from sansio_channels.crypto import KeyPair, SignatureForm
from sansio_channels.events import ChannelErrorReported, Event
from sansio_channels.options import Role
from sansio_channels.policy import DefaultPolicy, answer
from sansio_channels.simulator import Simulator
from sansio_channels.simulator.harness import keypair
from sansio_channels.store import SQLiteStore

from .scripted_node import NETWORK as SCRIPTED_NETWORK
from .scripted_node import feed, opened, sign_requests
from .test_layering import CORE, core_modules, imported_modules

# Core modules that may touch logging: the package (its NullHandler), the policy (its answers
# are the record of every sign decision) and the store.
LOGGING_CORE = {"__init__.py", "policy.py", "store.py"}


def secret_forms(key: KeyPair) -> list[str]:
    """Every way a secret key could be written into a text."""
    secret = key.secret_bytes()
    forms = []
    for raw in (secret[:32], secret):
        forms += [
            raw.hex(),
            raw.hex().upper(),
            repr(raw),
            base64.b64encode(raw).decode(),
            base58.b58encode(raw).decode(),
            encoding.encode("sk", raw),
        ]
    return forms


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("sansio_channels").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)
    assert sansio_channels.__name__ == "sansio_channels"


def test_the_core_does_not_log() -> None:
    modules = core_modules()
    assert len(modules) >= 6
    logging_ones = {
        str(path.relative_to(CORE)) for path in modules if "logging" in imported_modules(path)
    }
    assert logging_ones <= LOGGING_CORE
    assert "policy.py" in logging_ones


def test_a_whole_life_at_debug_logs_and_shows_no_secret(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    keys: list[KeyPair] = []
    generate = KeyPair.generate

    def remembered(form: SignatureForm = SignatureForm.RAW) -> KeyPair:
        key = generate(form)
        keys.append(key)
        return key

    monkeypatch.setattr(KeyPair, "generate", staticmethod(remembered))
    printed: list[str] = []
    caplog.set_level(logging.DEBUG, logger="sansio_channels")
    with SQLiteStore(tmp_path / "channels.sqlite3") as store:
        # The demo's clients keep their records, so the store's saves are logged too.
        with_store = functools.partial(sync.ChannelClient.open, store=store)
        monkeypatch.setattr(sync, "open_channel", with_store)
        run_demo("sync", None, printed.append)
    text = caplog.text + "\n".join(printed) + "".join(map(repr, caplog.records))
    assert len(keys) == 2
    for key in keys:
        assert key.address in caplog.text  # the log names the accounts...
        for form in secret_forms(key):
            assert form not in text  # ...and never a key
    names = {record.name for record in caplog.records}
    assert {"sansio_channels.adapters", "sansio_channels.policy"} <= names
    messages = [record.getMessage() for record in caplog.records]
    for expected in (
        "connected to ws://",
        "fsm up: ",
        "update signed by DefaultPolicy",
        "handed to the application by DefaultPolicy",
        "signed by the application",
        "connection lost (",
        "reconnect try 1 in ",
        "reconnected to ws://",
        "saved ",
    ):
        assert any(expected in message for message in messages), expected


def test_a_wrong_network_id_is_named_as_the_likely_cause(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The initiator signs the create tx for ae_uat; the node runs ae_dev and finds the
    signature bad. The event and the log name the network id we signed for."""
    alice, bob = keypair("alice"), keypair("bob")
    sim = Simulator()
    assert sim.network_id != "ae_uat"
    events: list[Event] = []
    caplog.set_level(logging.WARNING, logger="sansio_channels")
    with (
        ServerThread(sim, None) as server,
        sync.open_channel(
            server.url, options(Role.RESPONDER, alice, bob), network_id=sim.network_id, signer=bob
        ) as responder,
        sync.open_channel(
            server.url, options(Role.INITIATOR, alice, bob), network_id="ae_uat", signer=alice
        ) as initiator,
    ):
        until = time.monotonic() + 10
        while not any(isinstance(e, ChannelErrorReported) for e in events):
            assert time.monotonic() < until, events
            responder.poll(0.01)
            with contextlib.suppress(TimeoutError):  # nothing for the initiator this time
                event = initiator.next_event(timeout=0.05)
                if event is not None:
                    events.append(event)
    (error,) = [e for e in events if isinstance(e, ChannelErrorReported)]
    assert error.message == "bad_signature"
    assert error.likely_cause is not None
    assert "'ae_uat'" in error.likely_cause
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("bad_signature; likely cause:" in w and "'ae_uat'" in w for w in warnings)


def test_a_refusal_by_the_policy_is_a_warning_naming_the_failed_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel, node = opened()
    tx, updates = node.transfer(4, to_peer=False)
    forged = crypto.sign(
        txs.SignedTx(signatures=(), transaction=tx), keypair("mallory"), SCRIPTED_NETWORK
    )
    (request,) = sign_requests(feed(channel, node.sign_request("update_ack", forged, updates)))
    caplog.set_level(logging.INFO, logger="sansio_channels")
    assert answer(request, DefaultPolicy(), node.ours)
    (record,) = caplog.records
    assert (record.name, record.levelno) == ("sansio_channels.policy", logging.WARNING)
    message = record.getMessage()
    assert message.startswith(f"{node.ours.address}: update_ack aborted by DefaultPolicy; failed: ")
    assert all(check.name in message for check in request.checks.failed)


def test_a_connect_that_fails_is_logged_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alice, bob = keypair("alice"), keypair("bob")
    url = f"ws://127.0.0.1:{port}/channel"
    client = sync.open_channel(url, options(Role.INITIATOR, alice, bob), network_id="ae_dev")
    caplog.set_level(logging.WARNING, logger="sansio_channels")
    with pytest.raises(ConnectFailed):
        client.connect()
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith(f"initiator {alice.address}: cannot connect to {url}: ")
