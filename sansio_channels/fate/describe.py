"""What a channel update does to a contract: the decoded call of a create or call update, and
decoded contract query results, given the codes of the contracts known in the channel.

The sign request and the checks call :func:`describe_update`; an application or an adapter
calls :func:`decode_contract_call_result` on a ``channels.get.contract_call`` result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from .. import encoding
from ..codec import JSON, ChainObject, rlp_decode
from ..crypto import blake2b_256
from ..errors import DecodingError
from ..trees import StateTrees
from ..txs import OffChainCallContract, OffChainNewContract
from .calldata import DecodedCall, Interface, split_call_data
from .code import Contract
from .jsonform import to_json

__all__ = [
    "UpdateCall",
    "contract_codes",
    "created_contract_id",
    "decode_contract_call_result",
    "decoded_calls",
    "describe_update",
]

FATE_ABI = 3


@attrs.frozen
class UpdateCall:
    """The decoded call of a create (``init``) or call update, and the coins it moves."""

    call: DecodedCall
    amount: int  # the deposit of a create, the amount of a call
    contract: str | None  # the called contract's ct_ id; None for a create

    def __str__(self) -> str:
        return f"{self.call} with {self.amount} aettos" + (
            f" on {self.contract}" if self.contract else ""
        )


def created_contract_id(create: OffChainNewContract, round: int) -> str:
    """The ``ct_`` id the node gives the contract a create update makes in the state of
    ``round``: the BLAKE2b-256 hash of the owner's key and the round (big-endian, shortest)."""
    nonce = round.to_bytes(max(1, (round.bit_length() + 7) // 8), "big")
    return encoding.encode("ct", blake2b_256(create.owner_id.key + nonce))


def describe_update(update: object, contracts: Mapping[str, bytes]) -> UpdateCall | None:
    """The call a create or call update makes, or None when it is none of those, not FATE,
    or calls a contract whose code is not in ``contracts`` (``ct_`` id -> serialized code).

    Raises :class:`DecodingError` when the code or the call data is no FATE the node would
    run (the update then does nothing the application can be shown)."""
    if isinstance(update, OffChainNewContract):
        if update.ct_version & 0xFFFF != FATE_ABI:
            return None
        interface = Interface(Contract.from_bytes(update.code).fate)
        return UpdateCall(interface.decode_call(update.call_data), update.deposit, None)
    if isinstance(update, OffChainCallContract):
        if update.abi_version != FATE_ABI:
            return None
        contract = update.contract_id.api
        code = contracts.get(contract)
        if code is None:
            return None
        interface = Interface(Contract.from_bytes(code).fate)
        return UpdateCall(interface.decode_call(update.call_data), update.amount, contract)
    return None


def decode_contract_call_result(
    result: Mapping[str, Any], interface: Interface, function: str
) -> JSON:
    """The return value of a ``channels.get.contract_call`` result as JSON: the function's
    value when ``return_type`` is ok, the message when the call reverted or failed."""
    text = result.get("return_value")
    if not isinstance(text, str):
        raise DecodingError("contract call result: no return_value")
    return_type = result.get("return_type", "ok")
    return interface.result_json(function, encoding.decode(text, "cb"), str(return_type))


CONTRACT_CODE_FIELD = 4  # a contract object: [40, 1, owner, ct_version, code, log, ...]
PUBKEY_SIZE = 32


def contract_codes(trees: StateTrees) -> dict[str, bytes]:
    """The code of every contract in the state trees, by its ``ct_`` id."""
    codes: dict[str, bytes] = {}
    for entry in trees.contracts_tree.mtree.values:
        if len(entry.key) != PUBKEY_SIZE:
            continue
        items = rlp_decode(entry.val)
        if not isinstance(items, list) or len(items) <= CONTRACT_CODE_FIELD:
            raise DecodingError("contracts tree: a contract object is a list of its fields")
        code = items[CONTRACT_CODE_FIELD]
        if not isinstance(code, bytes):
            raise DecodingError("contracts tree: a contract's code is a byte string")
        codes[encoding.encode("ct", entry.key)] = code
    return codes


def decoded_calls(obj: ChainObject) -> list[dict[str, JSON]]:
    """The call of every create or call update a chain object holds (a tx, a signed tx, a
    force progress with its update), for showing: typed when the code is known (a create's
    own, or a contract in the object's off-chain trees), else the function's id and the bare
    values; a note when the call data is no FATE."""
    updates: list[OffChainNewContract | OffChainCallContract] = []
    codes: dict[str, bytes] = {}
    _collect(obj, updates, codes)
    shown: list[dict[str, JSON]] = []
    for update in updates:
        view: dict[str, JSON] = {"update": update.TYPE}
        abi = (
            update.abi_version
            if isinstance(update, OffChainCallContract)
            else update.ct_version & 0xFFFF
        )
        if abi != FATE_ABI:
            view["not_decoded"] = f"ABI version {abi}, not FATE"
            shown.append(view)
            continue
        try:
            described = describe_update(update, codes)
            if described is not None:
                view.update(described.call.to_json())
                view["amount"] = described.amount
            else:
                fid, values = split_call_data(update.call_data)
                view["function"] = "0x" + fid.hex()
                view["arguments"] = [to_json(v) for v in values]
        except DecodingError as exc:
            view["not_decoded"] = str(exc)
        shown.append(view)
    return shown


def _collect(
    obj: ChainObject,
    updates: list[OffChainNewContract | OffChainCallContract],
    codes: dict[str, bytes],
) -> None:
    if isinstance(obj, OffChainNewContract | OffChainCallContract):
        updates.append(obj)
    for name, _ in obj.FIELDS:
        value = getattr(obj, name)
        if name == "offchain_trees" and isinstance(value, bytes):
            codes.update(contract_codes(StateTrees.from_bytes(value)))
        for item in value if isinstance(value, tuple) else (value,):
            if isinstance(item, ChainObject):
                _collect(item, updates, codes)
