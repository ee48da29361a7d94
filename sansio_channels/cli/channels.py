"""``channels list|show ID|export ID [--store PATH]``: what a channel store holds."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import LocalProtocolError
from ..record import ChannelRecord
from ..store import SQLiteStore, record_key

DEFAULT_STORE = "channels.sqlite3"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("list", "show", "export"))
    parser.add_argument("id", nargs="?", metavar="ID", help="a channel id (ch_...) or store key")
    parser.add_argument(
        "--store", metavar="PATH", default=DEFAULT_STORE, help="the SQLite file of the channels"
    )


def run(args: argparse.Namespace) -> int:
    if not Path(args.store).exists():
        raise LocalProtocolError(f"no channel store at {args.store}")  # and none is created
    with SQLiteStore(args.store) as store:
        records = store.records()
    if args.action == "list":
        print(f"{'key':62} {'state':14} {'round':>6}  balances")
        for record in records:
            balances = ", ".join(f"{k[:9]}…={v}" for k, v in (record.balances or {}).items())
            round_ = "" if record.latest_round is None else str(record.latest_round)
            print(f"{record_key(record):62} {record.state:14} {round_:>6}  {balances}")
        return 0
    record = _find(records, args.id)
    if args.action == "show":
        print(json.dumps(record.to_json(), indent=2, sort_keys=True))
    else:
        # What an operator takes to a dispute: the latest co-signed state and what it holds.
        print(json.dumps(_dispute_view(record), indent=2, sort_keys=True))
    return 0


def _find(records: list[ChannelRecord], wanted: str | None) -> ChannelRecord:
    if wanted is None:
        raise LocalProtocolError("give a channel id (ch_...) or a key from 'channels list'")
    found = [r for r in records if wanted in (r.channel_id, record_key(r))]
    if not found:
        raise LocalProtocolError(f"no channel {wanted!r} in the store")
    if len(found) > 1:
        keys = ", ".join(record_key(r) for r in found)
        raise LocalProtocolError(f"{wanted!r} names more than one record ({keys}); give a key")
    return found[0]


def _dispute_view(record: ChannelRecord) -> dict[str, object]:
    return {
        "channel_id": record.channel_id,
        "role": record.role,
        "account": record.account,
        "peer": record.peer,
        "network_id": record.network_id,
        "latest_round": record.latest_round,
        "latest_state": record.latest_state,
        "balances": dict(record.balances or {}),
        "signed_not_co_signed": {str(k): v for k, v in record.signed_ahead.items()},
    }
