"""Which account each signature of a tx verified for, so that the simulator checks each once.

Both nodes of a channel check the same signatures (a node checks its client's reply, its peer's
node checks it again when the state comes over the wire). The outcome is the same every time,
and an Ed25519 signature valid for one account is not valid for another, so the simulator keeps
what it found: a signature known to be one account's is not tried against the others, and a
signature found before is not checked again. Checks that fail are not kept (they are rare).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .. import crypto

__all__ = ["Signatures"]

# Signatures kept at most; the oldest go first. A transfer brings two new ones.
_KEPT: Final = 4096


class Signatures:
    """The verified signatures of one network id."""

    def __init__(self, network_id: str) -> None:
        self.network_id = network_id
        self._signer: dict[tuple[bytes, bytes], bytes] = {}  # (signature, tx bytes) -> key

    def signed_by(self, signatures: Iterable[bytes], message: bytes, key: bytes) -> bool:
        """Whether one of ``signatures`` of the serialized tx ``message`` is ``key``'s."""
        unknown = []
        for signature in signatures:
            signer = self._signer.get((signature, message))
            if signer == key:
                return True
            if signer is None:
                unknown.append(signature)
        for signature in unknown:
            if crypto.verify(signature, message, self.network_id, key) is not None:
                if len(self._signer) >= _KEPT:
                    del self._signer[next(iter(self._signer))]
                self._signer[signature, message] = key
                return True
        return False
