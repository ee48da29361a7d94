"""``contract info|decode-call|encode-call|decode-result``: a contract's functions, its call data
and its results, from its ``cb_`` code (and an ACI for names)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from .. import encoding
from ..errors import LocalProtocolError
from ..fate.aci import Aci, parse_aci
from ..fate.calldata import Interface


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--aci", metavar="FILE", help="the compiler's ACI (JSON), for names")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    info = sub.add_parser("info", help="the functions, their ids, types and attributes")
    info.add_argument("code", metavar="CODE", help="the contract's cb_ code")
    decode_call = sub.add_parser("decode-call", help="call data as function and arguments")
    decode_call.add_argument("code", metavar="CODE")
    decode_call.add_argument("call_data", metavar="CALLDATA", help="cb_ call data")
    encode_call = sub.add_parser("encode-call", help="the cb_ call data of a call")
    encode_call.add_argument("code", metavar="CODE")
    encode_call.add_argument("function", metavar="FUNCTION")
    encode_call.add_argument("arguments", metavar="ARGS_JSON", help="a JSON array of arguments")
    decode_result = sub.add_parser("decode-result", help="a call's return value as JSON")
    decode_result.add_argument("code", metavar="CODE")
    decode_result.add_argument("function", metavar="FUNCTION")
    decode_result.add_argument("return_value", metavar="RETURN_VALUE", help="cb_ return value")
    decode_result.add_argument(
        "--return-type", default="ok", choices=("ok", "revert", "error"), help="default: ok"
    )


def _load_aci(path: str | None) -> Aci | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            data: Any = json.load(file)
    except (OSError, ValueError) as exc:
        raise LocalProtocolError(f"--aci {path}: {exc}") from None
    return parse_aci(data)


def run(args: argparse.Namespace) -> int:
    interface = Interface.from_code(args.code, _load_aci(args.aci))
    if args.action == "info":
        print(json.dumps({"functions": [f.to_json() for f in interface.functions]}, indent=2))
    elif args.action == "decode-call":
        call = interface.decode_call(encoding.decode(args.call_data, "cb"))
        print(json.dumps(call.to_json()))
    elif args.action == "encode-call":
        try:
            arguments = json.loads(args.arguments)
        except ValueError as exc:
            raise LocalProtocolError(f"ARGS_JSON: {exc}") from None
        if not isinstance(arguments, list):
            raise LocalProtocolError("ARGS_JSON: a JSON array of the arguments")
        print(encoding.encode("cb", interface.encode_call(args.function, arguments)))
    else:
        data = encoding.decode(args.return_value, "cb")
        print(json.dumps(interface.result_json(args.function, data, args.return_type)))
    return 0
