"""Benchmark: how long a hub's periodic store work holds its event loop, at scale.

A hub (``adapters.hub.Hub``) renews its leases every ``renew_every`` and scans the store for
channels to take every ``scan_every``; both run on the event loop, so the loop waits for them.
This fills a fresh store with ``channels`` records of open channels, each leased to one owner
(and ``closed`` records of finished channels beside them), then times, in one run:

- **renew, one by one**: ``store.renew(lease)`` for every lease, as the hub did before;
- **renew, batched**: one ``store.renew_many(leases)``, as the hub does now;
- **scan, every record**: ``store.records()``, every record read and decoded, as before;
- **scan, takeable**: one ``store.takeable()`` query, as the hub does now (it finds nothing:
  every open channel is leased).

Each figure is the best of ``repeats`` runs, in milliseconds; the ratios compare the old way
with the new one, from the same run.

Run: ``python bench/hub_loop.py [--store URL] [--channels 10000] [--closed 0] [--json]``.
``--store`` is ``sqlite:PATH`` (the default: a file in a temporary directory), a libpq URL of
an empty database, or ``postgres`` for a throwaway PostgreSQL cluster of the tests
(``tests/postgres_cluster.py``, from the server's binaries).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sansio_channels.record import ChannelRecord
from sansio_channels.state import ChannelState
from sansio_channels.store import Lease, LeasingStore, open_store, record_key
from tests.scripted_node import opened

OWNER = "hub"
LEASE_SECONDS = 3600.0  # no lease runs out while the figures are taken


@contextlib.contextmanager
def store_at(url: str | None) -> Iterator[LeasingStore]:
    """The store to measure: a new sqlite file, a throwaway cluster's database, or ``url``."""
    if url is None:
        with (
            tempfile.TemporaryDirectory(prefix="hub-loop-") as tmp,
            open_store(f"sqlite:{Path(tmp) / 'hub.sqlite3'}") as store,
        ):
            yield store
        return
    if url == "postgres":
        from tests.postgres_cluster import cluster, fresh_database

        with cluster() as admin, open_store(fresh_database(admin)) as store:
            yield store
        return
    with open_store(url) as store:
        yield store


def fill(store: LeasingStore, channels: int, closed: int) -> list[Lease]:
    """``channels`` open channels leased to ``OWNER`` and ``closed`` closed ones (leases
    released): the leases held."""
    channel, _ = opened()
    record = channel.record()
    leases = []
    for n in range(channels + closed):
        each: ChannelRecord = attrs.evolve(record, channel_id=f"ch_bench{n}")
        if n >= channels:
            each = attrs.evolve(each, state=ChannelState.CLOSED.value)
        lease = store.acquire(record_key(each), OWNER, seconds=LEASE_SECONDS)
        assert lease is not None
        store.save(each, lease=lease)
        if n >= channels:
            store.release(lease)
        else:
            leases.append(lease)
    return leases


def best_ms(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def measure(store: LeasingStore, leases: list[Lease], repeats: int) -> dict[str, float]:
    def renew_each() -> None:
        for lease in leases:
            store.renew(lease, seconds=LEASE_SECONDS)

    def renew_batched() -> None:
        renewed = store.renew_many(leases, seconds=LEASE_SECONDS)
        assert len(renewed) == len(leases)

    def scan_all() -> None:
        # What the hub did with them: skip the leased and the finished ones.
        [r for r in store.records() if r.state != ChannelState.CLOSED.value]

    def scan_takeable() -> None:
        assert store.takeable() == []

    figures = {
        "renew_each_ms": best_ms(renew_each, repeats),
        "renew_batched_ms": best_ms(renew_batched, repeats),
        "scan_all_ms": best_ms(scan_all, repeats),
        "scan_takeable_ms": best_ms(scan_takeable, repeats),
    }
    return {key: round(value, 2) for key, value in figures.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", metavar="URL", help="sqlite:PATH, a libpq URL, or postgres")
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--closed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with store_at(args.store) as store:
        start = time.perf_counter()
        leases = fill(store, args.channels, args.closed)
        filled = time.perf_counter() - start
        figures = measure(store, leases, args.repeats)
    kind = "sqlite" if args.store is None or args.store.startswith("sqlite:") else "postgres"
    result = {
        "store": kind,
        "channels": args.channels,
        "closed": args.closed,
        **figures,
        "renew_ratio": round(figures["renew_each_ms"] / figures["renew_batched_ms"], 1),
        "scan_ratio": round(figures["scan_all_ms"] / figures["scan_takeable_ms"], 1),
        "fill_s": round(filled, 1),
    }
    print(
        f"{kind}, {args.channels} leased channels, {args.closed} closed: "
        f"renew {figures['renew_each_ms']:.1f} ms one by one, "
        f"{figures['renew_batched_ms']:.1f} ms batched (x{result['renew_ratio']}); "
        f"scan {figures['scan_all_ms']:.1f} ms reading every record, "
        f"{figures['scan_takeable_ms']:.1f} ms takeable (x{result['scan_ratio']})"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
