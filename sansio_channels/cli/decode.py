"""``decode TX [--network-id ID] [--account AK]...``: a tx as JSON, and who signed it."""

from __future__ import annotations

import argparse
import json

from ..codec import JSON
from ..crypto import signed_layers, signer_of
from ..encoding import Id, IdTag, encode
from ..fate.describe import decoded_calls
from ..txs import decode_tx


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tx", metavar="TX", help="a tx_... string")
    parser.add_argument(
        "--network-id",
        metavar="ID",
        help="check the signatures for this network id (ae_mainnet, ae_uat, ...)",
    )
    parser.add_argument(
        "--account",
        metavar="AK",
        action="append",
        default=[],
        help="another account that may have signed (an off-chain tx names none itself)",
    )


def run(args: argparse.Namespace) -> int:
    obj = decode_tx(args.tx)
    view = obj.to_json()
    calls: list[JSON] = list(decoded_calls(obj))
    if calls:
        view["decoded_calls"] = calls
    if args.network_id is not None:
        checked: list[JSON] = []
        for signed in signed_layers(obj):
            tx_bytes = signed.transaction.serialize()
            # The candidates: the accounts the inner tx names, then those given on the line.
            named = [i for i in signed.transaction.ids() if i.tag is IdTag.ACCOUNT]
            candidates = named + [Id.account(text) for text in args.account]
            for signature in signed.signatures:
                signer = signer_of(signature, tx_bytes, args.network_id, candidates)
                checked.append(
                    {
                        "signature": encode("sg", signature),
                        "verified_for": None if signer is None else signer.api,
                    }
                )
        view["signatures_checked"] = checked
    print(json.dumps(view, indent=2))
    return 0
