"""A client process killed in the middle of a dispute (``tests/durability/test_dispute_crash.py``).

``python -m tests.durability.dispute_child URL NETWORK_ID STORE KILL_AT`` opens a channel as
the initiator on the blocking adapter, keeping its record in the SQLite store ``STORE``, and
reads events until it dies: its store SIGKILLs the process right after it saved the first record
with ``KILL_AT`` ("slash" or "settle") as the dispute action due, before that action's request
could leave.
"""

from __future__ import annotations

import os
import signal
import sys

from sansio_channels.adapters import Settings
from sansio_channels.adapters import sync as sync_adapter
from sansio_channels.events import SignRequest
from sansio_channels.options import Role
from sansio_channels.record import ChannelRecord
from sansio_channels.store import Lease, SQLiteStore
from tests.adapters.simulated import INITIATOR, open_options


class KilledAfterSaving(SQLiteStore):
    """A store whose process dies right after the record with the dispute action is saved."""

    def __init__(self, path: str, kill_at: str) -> None:
        super().__init__(path)
        self.kill_at = kill_at

    def save(
        self, record: ChannelRecord, *, replaces: str | None = None, lease: Lease | None = None
    ) -> None:
        super().save(record, replaces=replaces, lease=lease)
        if record.dispute == self.kill_at:
            os.kill(os.getpid(), signal.SIGKILL)


def main(url: str, network_id: str, path: str, kill_at: str) -> None:
    store = KilledAfterSaving(path, kill_at)
    settings = Settings(open_timeout=5.0, close_timeout=1.0)
    options = open_options(Role.INITIATOR)
    with sync_adapter.open_channel(
        url, options, network_id=network_id, signer=INITIATOR, settings=settings, store=store
    ) as client:
        for event in client:
            # The default policy asks about the create tx only (its channel id cannot be
            # checked before the open names it); the rest it answers itself.
            if isinstance(event, SignRequest) and event.tag.tag == "initiator_sign":
                client.sign(event)
    sys.exit("the stream ended before the kill point")


if __name__ == "__main__":
    main(*sys.argv[1:5])
