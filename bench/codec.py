"""Micro-benchmark: decode + check + sign of an off-chain tx, against bare pynacl in one run.

The pipeline is what a client does with a peer's update: decode the ``tx_`` string, check it
is an off-chain tx whose peer signature verifies, sign it, add the signature and encode the
result. The baselines are a bare pynacl signature of the same bytes, and a bare signature plus
a bare verification (the crypto the pipeline cannot avoid). Run:

    python bench/codec.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import timeit
from collections.abc import Callable

import nacl.signing

from sansio_channels import crypto, txs
from sansio_channels.crypto import KeyPair
from sansio_channels.encoding import Id, IdTag

NETWORK_ID = "ae_uat"


def build_request(peer: KeyPair, channel: bytes) -> str:
    """A peer-signed off-chain tx as a node would hand it to us for an update_ack."""
    offchain = txs.ChannelOffChainTx(
        channel_id=Id(IdTag.CHANNEL, channel),
        round=42,
        state_hash=bytes(range(32)),
    )
    unsigned = txs.SignedTx(signatures=(), transaction=offchain)
    return txs.encode_tx(crypto.sign(unsigned, peer, NETWORK_ID))


def best(func: Callable[[], object], rounds: int) -> float:
    """Seconds per call, the best of five runs of ``rounds`` calls."""
    return min(timeit.repeat(func, number=rounds, repeat=5)) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()

    ours = KeyPair.from_secret(bytes([1]) * 32)
    peer = KeyPair.from_secret(bytes([2]) * 32)
    channel = bytes([3]) * 32
    request = build_request(peer, channel)

    def pipeline() -> str:
        signed = txs.decode_signed_tx(request)
        offchain = signed.transaction
        if not isinstance(offchain, txs.ChannelOffChainTx) or offchain.channel_id.key != channel:
            raise AssertionError("not our channel's off-chain tx")
        tx_bytes = offchain.serialize()
        if not any(
            crypto.verify(sig, tx_bytes, NETWORK_ID, peer.public_key) for sig in signed.signatures
        ):
            raise AssertionError("peer signature does not verify")
        return txs.encode_tx(crypto.sign(signed, ours, NETWORK_ID))

    message = NETWORK_ID.encode() + txs.decode_signed_tx(request).transaction.serialize()
    signing_key = nacl.signing.SigningKey(bytes([1]) * 32)
    signature = signing_key.sign(message).signature
    verify_key = signing_key.verify_key

    def bare_sign() -> bytes:
        return signing_key.sign(message).signature

    def bare_sign_verify() -> bytes:
        verify_key.verify(message, signature)
        return signing_key.sign(message).signature

    pipeline()  # warm up, and fail loudly if the pipeline is wrong
    figures = {
        "pipeline_us": best(pipeline, args.rounds) * 1e6,
        "bare_sign_us": best(bare_sign, args.rounds) * 1e6,
        "bare_sign_verify_us": best(bare_sign_verify, args.rounds) * 1e6,
    }
    figures["ratio_to_sign"] = figures["pipeline_us"] / figures["bare_sign_us"]
    figures["ratio_to_sign_verify"] = figures["pipeline_us"] / figures["bare_sign_verify_us"]
    if args.json:
        print(json.dumps({k: round(v, 3) for k, v in figures.items()}))
        return
    print(f"decode + check + sign + encode: {figures['pipeline_us']:8.1f} us")
    print(f"bare pynacl sign:               {figures['bare_sign_us']:8.1f} us")
    print(f"bare pynacl sign + verify:      {figures['bare_sign_verify_us']:8.1f} us")
    print(f"ratio to bare sign:             {figures['ratio_to_sign']:8.2f}")
    print(f"ratio to bare sign + verify:    {figures['ratio_to_sign_verify']:8.2f}")


if __name__ == "__main__":
    main()
