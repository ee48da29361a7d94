"""The ACI gives names: arguments, records, constructors; its types must be the code's."""

from __future__ import annotations

import pytest

from sansio_channels.errors import LocalProtocolError
from sansio_channels.fate import types as t
from sansio_channels.fate.aci import parse_aci
from sansio_channels.fate.calldata import Interface
from sansio_channels.fate.jsonform import coerce, to_json

from .test_describe_cli import CODE

ACI = [
    {
        "namespace": {
            "name": "Lib",
            "typedefs": [
                {"name": "pair", "vars": [{"name": "'a"}], "typedef": {"tuple": ["'a", "'a"]}}
            ],
        }
    },
    {
        "contract": {
            "name": "Game",
            "payable": True,
            "typedefs": [
                {
                    "name": "move",
                    "vars": [],
                    "typedef": {"variant": [{"Rock": []}, {"Paper": []}, {"Scissors": []}]},
                },
                {
                    "name": "bet",
                    "vars": [],
                    "typedef": {
                        "record": [
                            {"name": "player", "type": "address"},
                            {"name": "amount", "type": "int"},
                        ]
                    },
                },
            ],
            "functions": [
                {"name": "init", "arguments": [], "returns": "Game.bet", "stateful": False},
                {
                    "name": "main",
                    "arguments": [{"name": "x", "type": "int"}],
                    "returns": "int",
                    "stateful": True,
                    "payable": True,
                },
                {
                    "name": "play",
                    "arguments": [
                        {"name": "m", "type": "Game.move"},
                        {"name": "b", "type": "Game.bet"},
                        {"name": "p", "type": {"Lib.pair": ["int"]}},
                        {"name": "o", "type": {"option": ["hash"]}},
                        {"name": "l", "type": {"list": [{"map": ["string", {"bytes": 4}]}]}},
                        {"name": "q", "type": {"oracle_query": ["string", "int"]}},
                        {"name": "c", "type": "Game"},
                        {"name": "ttl", "type": "Chain.ttl"},
                        {"name": "s", "type": {"tuple": ["bool"]}},
                    ],
                    "returns": {"oracle": ["string", "int"]},
                },
            ],
        }
    },
]


def test_names_come_from_the_aci() -> None:
    aci = parse_aci(ACI)
    assert aci.name == "Game"
    assert aci.payable
    play = aci.functions["play"]
    move, bet, pair, option = play.arguments[:4]
    assert isinstance(move, t.VariantType)
    assert move.names == ("Rock", "Paper", "Scissors")
    assert isinstance(bet, t.TupleType)
    assert bet.fields == ("player", "amount")
    assert pair == t.TupleType((t.INTEGER, t.INTEGER))
    assert option == t.VariantType((t.TupleType(()), t.TupleType((t.BytesType(32),))))
    assert play.arguments[6:] == (t.CONTRACT, play.arguments[7], t.BOOLEAN)
    assert play.returns == t.ORACLE
    value = coerce(
        {"player": "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha", "amount": 5}, bet
    )
    assert to_json(value, bet) == {
        "player": "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha",
        "amount": 5,
    }
    assert to_json(coerce({"Paper": []}, move), move) == {"Paper": []}


def test_an_interface_with_the_aci_names_arguments_and_attributes() -> None:
    interface = Interface.from_code(CODE, parse_aci(ACI))
    main = interface.function("main")
    assert main.argument_names == ("x",)
    assert main.attributes == ("payable", "stateful")
    assert main.to_json()["arguments"] == [{"name": "x", "type": "int"}]
    # The ACI's init returns the state; the code's init returns unit, which stays.
    assert interface.function("init").returns == t.TupleType(())


@pytest.mark.parametrize(
    ("aci", "message"),
    [
        ([], "no contract"),
        ([{"contract": {"name": "A"}, "x": 1}], "each entry"),
        ([{"contract": {}}], "without a name"),
        (
            [
                {
                    "contract": {
                        "name": "A",
                        "functions": [{"name": "f", "arguments": [], "returns": "nope"}],
                    }
                }
            ],
            "unknown type nope",
        ),
    ],
)
def test_bad_acis_are_refused(aci: object, message: str) -> None:
    with pytest.raises(LocalProtocolError, match=message):
        parse_aci(aci)


def test_an_aci_that_contradicts_the_code_is_refused() -> None:
    wrong = [
        {
            "contract": {
                "name": "G",
                "functions": [
                    {
                        "name": "main",
                        "arguments": [{"name": "x", "type": "string"}],
                        "returns": "int",
                    }
                ],
            }
        }
    ]
    with pytest.raises(LocalProtocolError, match="differ"):
        Interface.from_code(CODE, parse_aci(wrong))
    with pytest.raises(LocalProtocolError, match="no contract 'X'"):
        parse_aci(wrong, "X")
