"""One channel's lease, and the store as the owner of that lease sees it.

:class:`LeasedStore` stands in for a :class:`~sansio_channels.store.LeasingStore` where an
adapter takes a store: every save it passes on carries the channel's lease, so the store
refuses it (:class:`~sansio_channels.store.LeaseLost`) once another owner took the channel
over; and since the adapters send nothing before its save commits, the signature in it never
leaves. A new channel's lease is taken with its first save, before any process can see its
record; a resumed channel's lease is taken before its record is read.
"""

from __future__ import annotations

import attrs

from .errors import LocalProtocolError
from .record import ChannelRecord
from .store import Lease, LeaseLost, LeasingStore, record_key

__all__ = ["LeasedStore"]


class LeasedStore:
    """``store`` as the owner of one channel's lease uses it (a ``ChannelStore``).

    ``lease`` is the lease already held (a resumed channel); without one, the first save
    takes it for the key the record is saved under. :meth:`renew` keeps it, :meth:`release`
    gives it up. ``seconds`` is how long each taking or renewal lasts."""

    def __init__(
        self, store: LeasingStore, owner: str, *, seconds: float, lease: Lease | None = None
    ) -> None:
        self.store = store
        self.owner = owner
        self.seconds = seconds
        self.lease = lease

    def save(self, record: ChannelRecord, *, replaces: str | None = None) -> None:
        key = record_key(record)
        if self.lease is None:
            taken = self.store.acquire(replaces or key, self.owner, seconds=self.seconds)
            if taken is None:
                raise LeaseLost(f"{replaces or key}: leased to another owner")
            self.lease = taken
        self.store.save(record, replaces=replaces, lease=self.lease)
        if self.lease.key != key:  # the store moved it with the record
            self.lease = attrs.evolve(self.lease, key=key)

    def load(self, key: str) -> ChannelRecord | None:
        return self.store.load(key)

    def records(self) -> list[ChannelRecord]:
        return self.store.records()

    def delete(self, key: str) -> None:
        self.store.delete(key)

    def renew(self) -> Lease | None:
        """Renew the lease, if one is held yet; :class:`LeaseLost` if it was taken over."""
        if self.lease is not None:
            self.lease = self.store.renew(self.lease, seconds=self.seconds)
        return self.lease

    def renewed(self, lease: Lease) -> None:
        """Take the renewal of the lease held, made for many channels at once
        (:meth:`~sansio_channels.store.LeasingStore.renew_many`): same key and token, a
        later expiry."""
        held = self.lease
        if held is None or (held.key, held.token) != (lease.key, lease.token):
            raise LocalProtocolError(f"{lease.key}: lease {lease.token} is not the one held")
        self.lease = lease

    def release(self) -> None:
        if self.lease is not None:
            self.store.release(self.lease)
