"""The simulator checks each signature once, and never takes one for another account's."""

from __future__ import annotations

import pytest

from sansio_channels import crypto
from sansio_channels.simulator.harness import keypair
from sansio_channels.simulator.signatures import Signatures

ALICE, BOB, EVE = keypair("sig alice"), keypair("sig bob"), keypair("sig eve")
MESSAGE = b"an off-chain tx, serialized"


def test_each_signature_is_its_own_accounts_and_is_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice = ALICE.sign_tx(MESSAGE, "ae_dev")
    bob = BOB.sign_tx(MESSAGE, "ae_dev")
    signatures = Signatures("ae_dev")
    checks = []
    real = crypto.verify

    def counted(*args: object) -> object:
        checks.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(crypto, "verify", counted)
    assert signatures.signed_by([bob, alice], MESSAGE, ALICE.public_key)
    assert signatures.signed_by([bob, alice], MESSAGE, BOB.public_key)
    first = len(checks)
    # Known now, both ways round; and alice's is not tried as eve's.
    assert signatures.signed_by([alice, bob], MESSAGE, ALICE.public_key)
    assert signatures.signed_by([alice, bob], MESSAGE, BOB.public_key)
    assert not signatures.signed_by([alice, bob], MESSAGE, EVE.public_key)
    assert len(checks) == first


def test_a_signature_for_another_message_or_network_is_refused() -> None:
    signatures = Signatures("ae_dev")
    alice = ALICE.sign_tx(MESSAGE, "ae_dev")
    assert signatures.signed_by([alice], MESSAGE, ALICE.public_key)
    assert not signatures.signed_by([alice], MESSAGE + b"!", ALICE.public_key)
    assert not Signatures("ae_mainnet").signed_by([alice], MESSAGE, ALICE.public_key)
    assert not signatures.signed_by([bytes(64)], MESSAGE, BOB.public_key)
    assert not signatures.signed_by([], MESSAGE, ALICE.public_key)
