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
from ..codec import JSON
from ..errors import DecodingError
from ..txs import OffChainCallContract, OffChainNewContract
from .calldata import DecodedCall, Interface
from .code import Contract

__all__ = ["UpdateCall", "decode_contract_call_result", "describe_update"]

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
