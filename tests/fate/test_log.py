"""Logged events decoded with the event type of an ACI."""

from __future__ import annotations

import pytest

from sansio_channels.errors import DecodingError
from sansio_channels.fate.aci import parse_aci
from sansio_channels.fate.log import decode_event, decode_log, event_topic

ACI = [
    {
        "contract": {
            "name": "Test",
            "functions": [],
            "event": {
                "variant": [
                    {"EventOne": ["bool", "address"]},
                    {"EventTwo": ["int", "string"]},
                    {"EventThree": [{"bytes": 4}, {"bytes": 40}]},
                ]
            },
        }
    }
]
EVENT = parse_aci(ACI).event
CONTRACT = "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq"


def test_the_first_topic_is_the_hash_of_the_name() -> None:
    # The value aepp-calldata's README shows for EventTwo.
    assert event_topic("EventTwo") == (
        34853523142692495808479485503424878684430196596020091237715106250497712463899
    )


def test_events_are_decoded() -> None:
    assert EVENT is not None
    two = {
        "address": CONTRACT,
        "topics": [event_topic("EventTwo"), 17],
        "data": "cb_dHJpZ2dlcmVk1FYuYA==",
    }
    assert decode_event(two, EVENT).to_json() == {
        "contract": CONTRACT,
        "event": {"EventTwo": [17, "triggered"]},
    }
    one = {"address": CONTRACT, "topics": [event_topic("EventOne"), 1, 5], "data": "cb_Xfbg4g=="}
    (event,) = decode_log([one], EVENT)
    assert event.name == "EventOne"
    assert event.value.values[0] is True
    assert str(event.value.values[1]).startswith("ak_")
    three = {
        "address": CONTRACT,
        "topics": [event_topic("EventThree"), 0x01020304],
        "data": "cb_Xfbg4g==",
    }
    assert decode_event(three, EVENT).value.values == (b"\x01\x02\x03\x04", b"")


@pytest.mark.parametrize(
    ("topics", "message"),
    [
        ([], "non-empty list"),
        ([5], "names no constructor"),
        ([event_topic("EventTwo")], "fewer topics"),
        ([event_topic("EventTwo"), 1, 2], "more topics"),
        ([event_topic("EventOne"), 2, 5], "a boolean topic of 2"),
        ([event_topic("EventOne"), 1, 2**256], "no 32-byte word"),
        ([event_topic("EventThree"), 2**32], "does not fit in bytes"),
    ],
)
def test_bad_events_are_refused(topics: list[int], message: str) -> None:
    assert EVENT is not None
    with pytest.raises(DecodingError, match=message):
        decode_event({"address": CONTRACT, "topics": topics, "data": "cb_Xfbg4g=="}, EVENT)
