"""Contracts from Python: FATE values, types, contract code and call data.

:mod:`.values` holds the values and their serialization, :mod:`.types` the types,
:mod:`.code` the serialized contract and its FATE code, :mod:`.calldata` call data and call
results against a contract's interface, :mod:`.jsonform` the JSON form of values,
:mod:`.aci` the compiler's ACI, and :mod:`.describe` what a channel update does.
"""
