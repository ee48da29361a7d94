"""``state SS [--expect-hash ST]``: the roots, balances and state hash of an ``ss_`` state.

The ``ss_`` string is what ``channels.get.offchain_state`` returns as ``trees``; the state hash
is what every tx committing to that state must carry. Exit status 1 when it is not the
expected one.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..codec import JSON
from ..encoding import decode, encode
from ..trees import decode_state_trees

MISMATCH = 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trees", metavar="SS", help="an ss_... string (serialized state trees)")
    parser.add_argument(
        "--expect-hash",
        metavar="ST",
        help="the st_... state hash the state must have (e.g. from the signed tx beside it)",
    )


def run(args: argparse.Namespace) -> int:
    expected = None if args.expect_hash is None else decode(args.expect_hash, "st")
    trees = decode_state_trees(args.trees)
    state_hash = trees.state_hash()
    # A contract's account shares its pubkey with the contract; show it as the contract.
    contracts = trees.contract_keys()
    accounts: list[JSON] = [
        {"account": encode("ct" if key in contracts else "ak", key), "balance": balance}
        for key, balance in sorted(trees.accounts().items())
    ]
    view: dict[str, JSON] = {
        # Hex, in the order the state hash takes them; null for an empty tree.
        "roots": {name: root.hex() or None for name, root in trees.roots.items()},
        "accounts": accounts,
        "state_hash": encode("st", state_hash),
    }
    if expected is not None:
        view["expected_hash"] = encode("st", expected)
        view["matches"] = expected == state_hash
    print(json.dumps(view, indent=2))
    if expected is not None and expected != state_hash:
        print("error: the state hash differs from the expected one", file=sys.stderr)
        return MISMATCH
    return 0
