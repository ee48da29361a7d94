"""Keys, signatures over txs, and the hashes that name channels and txs.

A tx is signed with Ed25519 over ``network_id ‖ S(inner tx)`` (the *raw* form). Since Lima
nodes also accept a signature over ``network_id ‖ blake2b_256(S(inner tx))`` (the *hash*
form), and try the raw form first. :class:`KeyPair` signs in the raw form by default: every
protocol version accepts it, and it is what the recorded node sessions carry. The hash form
is there for signers that cannot take a long message (some hardware wallets).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable
from typing import Final, NoReturn, Protocol, SupportsIndex, runtime_checkable

import attrs
import nacl.exceptions
import nacl.signing

from . import encoding
from .codec import ChainObject
from .encoding import Id, IdTag
from .errors import LocalProtocolError, SignatureError
from .txs import (
    CREATE_TXS,
    GAMetaTx,
    GAMetaTxV1,
    SignedTx,
    signed_tx_of,
)

__all__ = [
    "KeyPair",
    "SignatureForm",
    "Signer",
    "add_signature",
    "blake2b_256",
    "channel_id",
    "inner_tx",
    "sign",
    "sign_message",
    "signed_layers",
    "signer_of",
    "tx_hash",
    "verify",
]


def blake2b_256(data: bytes) -> bytes:
    """The 32-byte BLAKE2b hash the chain uses for tx hashes, ids and state hashes."""
    return hashlib.blake2b(data, digest_size=32).digest()


class SignatureForm(enum.Enum):
    """What is signed after the network id: the serialized tx (raw) or its hash."""

    RAW = "raw"  # network_id ‖ serialized tx: accepted by every protocol version
    HASH = "hash"  # network_id ‖ blake2b_256(serialized tx): accepted since Lima


def sign_message(tx_bytes: bytes, network_id: str, form: SignatureForm) -> bytes:
    """The exact bytes an Ed25519 signature over a tx covers."""
    prefix = network_id.encode("utf-8")
    if form is SignatureForm.RAW:
        return prefix + tx_bytes
    return prefix + blake2b_256(tx_bytes)


@runtime_checkable
class Signer(Protocol):
    """Whatever can sign txs for one account: a :class:`KeyPair`, a hardware or remote signer."""

    @property
    def address(self) -> str:
        """The account's ``ak_...`` address."""
        ...

    def sign_tx(self, tx_bytes: bytes, network_id: str) -> bytes:
        """A 64-byte Ed25519 signature over the serialized inner tx for ``network_id``."""
        ...


@attrs.frozen(repr=False)
class KeyPair:
    """An Ed25519 key pair. Its secret never appears in a repr, a str or an error."""

    _signing_key: nacl.signing.SigningKey = attrs.field(alias="signing_key")
    form: SignatureForm = SignatureForm.RAW

    @classmethod
    def generate(cls, form: SignatureForm = SignatureForm.RAW) -> KeyPair:
        """A new random key pair."""
        return cls(signing_key=nacl.signing.SigningKey.generate(), form=form)

    @classmethod
    def from_secret(cls, secret: bytes, form: SignatureForm = SignatureForm.RAW) -> KeyPair:
        """From the 32-byte seed, or the 64-byte ``seed ‖ public key`` form wallets store."""
        if not isinstance(secret, bytes) or len(secret) not in (32, 64):
            raise LocalProtocolError(
                "a secret key is 32 bytes (seed) or 64 bytes (seed ‖ public key)"
            )
        key = nacl.signing.SigningKey(secret[:32])
        if len(secret) == 64 and bytes(key.verify_key) != secret[32:]:
            raise LocalProtocolError("the secret key's second half is not its public key")
        return cls(signing_key=key, form=form)

    @property
    def public_key(self) -> bytes:
        return bytes(self._signing_key.verify_key)

    @property
    def address(self) -> str:
        return encoding.encode("ak", self.public_key)

    def secret_bytes(self) -> bytes:
        """The 64-byte ``seed ‖ public key`` secret. Handle with care."""
        return bytes(self._signing_key) + self.public_key

    def sign_tx(self, tx_bytes: bytes, network_id: str) -> bytes:
        """A 64-byte signature over ``tx_bytes`` for ``network_id``, in this key's form."""
        return self._signing_key.sign(sign_message(tx_bytes, network_id, self.form)).signature

    def __repr__(self) -> str:
        return f"KeyPair(address={self.address!r})"

    __str__ = __repr__

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        # A pickle (or a copy made through one) would carry the secret key out of the process.
        raise TypeError(
            "a KeyPair is not pickled or copied: its secret key would go with it; "
            "keep the secret (secret_bytes()) where the application keeps secrets"
        )


def verify(
    signature: bytes, tx_bytes: bytes, network_id: str, public_key: bytes
) -> SignatureForm | None:
    """Which form ``signature`` verifies in for ``public_key``, or ``None`` if in neither.

    The raw form is tried first, as the node does.
    """
    for form in SignatureForm:
        if _verifies(signature, sign_message(tx_bytes, network_id, form), public_key):
            return form
    return None


def _verifies(signature: bytes, message: bytes, public_key: bytes) -> bool:
    if len(signature) != 64 or len(public_key) != 32:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def signer_of(
    signature: bytes, tx_bytes: bytes, network_id: str, accounts: Iterable[Id]
) -> Id | None:
    """The account among ``accounts`` that ``signature`` over ``tx_bytes`` verifies for.

    Put the likely signer first: the raw form is tried for every account before the hash
    form, so a signature in the raw form by the first account costs one verification.
    """
    candidates = list(accounts)
    for form in SignatureForm:
        message = sign_message(tx_bytes, network_id, form)
        for account in candidates:
            if _verifies(signature, message, account.key):
                return account
    return None


def add_signature(signed: SignedTx, signature: bytes) -> SignedTx:
    """``signed`` with one more signature, the list kept byte-sorted and free of repeats."""
    if not isinstance(signature, bytes) or len(signature) != 64:
        raise SignatureError("a signature is 64 bytes")
    # Every signature is 64 bytes (the new one checked above, the others a valid signed tx's).
    return signed_tx_of(tuple(sorted({*signed.signatures, signature})), signed.transaction)


def sign(signed: SignedTx, signer: Signer, network_id: str) -> SignedTx:
    """``signed`` with ``signer``'s signature over its inner tx added."""
    signature = signer.sign_tx(signed.transaction.serialize(), network_id)
    return add_signature(signed, signature)


def tx_hash(signed: SignedTx) -> str:
    """The ``th_...`` hash of a signed tx, as the node names it."""
    return encoding.encode("th", blake2b_256(signed.serialize()))


def channel_id(create: ChainObject) -> Id:
    """The id of the channel a create tx opens; the one derivation.

    ``create`` is the create tx, or a signed tx around it (as a sign request carries it). A
    plain initiator's id follows from the tx nonce; a generalized initiator's (nonce 0) from
    its auth id ``blake2b(ga_id ‖ auth_data)``, which only its meta tx around the create tx
    carries: without that meta tx such a create tx is refused.
    """
    layers = signed_layers(create)
    tx = layers[-1].transaction if layers else create
    if not isinstance(tx, CREATE_TXS):
        raise LocalProtocolError(f"a channel_create_tx is required, got {type(tx).__name__}")
    metas = [layer.transaction for layer in layers]
    auth = [
        m for m in metas if isinstance(m, (GAMetaTx, GAMetaTxV1)) and m.ga_id == tx.initiator_id
    ]
    if auth:
        middle = blake2b_256(auth[0].ga_id.key + auth[0].auth_data)
    elif tx.nonce == 0:
        raise LocalProtocolError(
            "a generalized initiator's create tx (nonce 0): its channel id needs the meta tx "
            "around it"
        )
    elif tx.nonce >= 1 << 256:
        raise LocalProtocolError("a create tx nonce does not fit the 32 bytes of a channel id")
    else:
        middle = tx.nonce.to_bytes(32, "big")
    return Id(IdTag.CHANNEL, blake2b_256(tx.initiator_id.key + middle + tx.responder_id.key))


def signed_layers(obj: ChainObject) -> list[SignedTx]:
    """The signed txs ``obj`` is made of, outermost first.

    A generalized account's reply is a signed tx (without signatures) around a meta tx around
    another signed tx; a plain account's is a single signed tx.
    """
    if type(obj) is SignedTx and type(obj.transaction) not in _WRAPPERS:
        return [obj]  # a plain account's: asked for several times per request
    layers: list[SignedTx] = []
    while True:
        if isinstance(obj, SignedTx):
            layers.append(obj)
            obj = obj.transaction
        elif isinstance(obj, (GAMetaTx, GAMetaTxV1)):
            obj = obj.tx
        else:
            return layers


_WRAPPERS: Final = (SignedTx, GAMetaTx, GAMetaTxV1)


def inner_tx(obj: ChainObject) -> ChainObject:
    """The tx that a signed tx (or a meta tx) wraps, unwrapped all the way."""
    layers = signed_layers(obj)
    return layers[-1].transaction if layers else obj
