"""NewContract and CallContract made from a function name and typed arguments."""

from __future__ import annotations

from typing import Any

import pytest

from sansio_channels import encoding
from sansio_channels.commands import CallContract, NewContract
from sansio_channels.errors import LocalProtocolError
from sansio_channels.fate.calldata import Interface

from .test_describe_cli import CODE, CONTRACT


def test_a_create_from_typed_arguments_is_the_recorded_one() -> None:
    create = NewContract.from_call(code=CODE, deposit=10, vm_version=7)
    # The recorded client's own new_contract: the same code, init() call data, ABI 3.
    assert create.params() == {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": CODE,
        "call_data": "cb_KxFE1kQfP4oEp9E=",
    }


def test_a_call_from_typed_arguments() -> None:
    call = CallContract.from_call(
        contract_id=CONTRACT, contract=CODE, function="main", arguments=[42], amount=3
    )
    assert call.abi_version == 3
    assert Interface.from_code(CODE).decode_call(
        encoding.decode(call.call_data, "cb")
    ).arguments == (42,)
    same = CallContract.from_call(
        contract_id=CONTRACT,
        contract=Interface.from_code(CODE),
        function="main",
        arguments=[42],
        amount=3,
    )
    assert same == call


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"function": "main", "arguments": ["42"]}, "expected an int"),
        ({"function": "main", "arguments": []}, "takes 1 arguments"),
        ({"function": "nope", "arguments": []}, "no function 'nope'"),
        ({"function": "main", "arguments": [1], "contract": "cb_AZwSz9w="}, "code: contract"),
    ],
)
def test_typed_calls_that_do_not_fit_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments = {"contract_id": CONTRACT, "contract": CODE, **kwargs}
    with pytest.raises(LocalProtocolError, match=message):
        CallContract.from_call(**arguments)
