"""How much checking a state hash costs next to signing the tx that carries it.

Run: ``python bench/state_hash.py``. Prints the best time per call of
:func:`~sansio_channels.trees.accounts_state_hash` on a two-account state and of one bare
PyNaCl Ed25519 signature over a ~100-byte message (about the size of a serialized off-chain
tx plus the network id), measured in the same run, and their ratio.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

import nacl.signing

from sansio_channels.crypto import blake2b_256
from sansio_channels.trees import accounts_state_hash

REPEATS = 7


def best_seconds_per_call(func: Callable[[], object]) -> float:
    """The fastest of several timed batches, per call (the least disturbed by the machine)."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    return min(timer.repeat(repeat=REPEATS, number=number)) / number


def main() -> None:
    # Fixed inputs, so that runs compare: two pubkeys and realistic balances.
    balances = {
        blake2b_256(b"initiator"): 69_999_999_999_999,
        blake2b_256(b"responder"): 40_000_000_000_001,
    }
    signing_key = nacl.signing.SigningKey(blake2b_256(b"seed"))
    message = b"local_iris_testnet" + bytes(range(82))  # 100 bytes

    hash_time = best_seconds_per_call(lambda: accounts_state_hash(balances))
    sign_time = best_seconds_per_call(lambda: signing_key.sign(message))

    print(f"accounts_state_hash, 2 accounts: {hash_time * 1e6:8.2f} us")
    print(f"Ed25519 sign, {len(message)}-byte message: {sign_time * 1e6:8.2f} us")
    print(f"ratio hash / signature:          {hash_time / sign_time:8.2f}")


if __name__ == "__main__":
    main()
