"""The own operations' life cycle: one ending path, the table of what ends each well, and a
report the life cycle has no row for, told rather than dropped."""

from __future__ import annotations

import pytest

from sansio_channels import commands as cmd
from sansio_channels.events import (
    Event,
    FailureReason,
    Operation,
    OperationAccepted,
    OperationFailed,
    OperationQueued,
    ReportIgnored,
    StateChanged,
)
from sansio_channels.operations import OPERATIONS, Ends
from sansio_channels.own_operations import ENDED_BY, Accepted, Failed, OwnOperations, Signal
from sansio_channels.state import ChannelState, Input

from .scripted_node import feed, opened

PAY = cmd.Transfer(
    from_id="ak_2MGLPW2CHTDXJhqFJezqSwYSNwbZokSKkG7wSbGtVmeyjGfHtm",
    to_id="ak_25BWMx4An9mmQJNPSwJisiENek3bAGadze31Eetj4K4JJC8VQN",
    amount=1,
)


def operations() -> tuple[OwnOperations, list[Event], list[Operation]]:
    events: list[Event] = []
    started: list[Operation] = []
    return OwnOperations(events.append, started.append), events, started


def test_one_at_a_time_and_one_ending_path() -> None:
    own, events, started = operations()
    first, second = Operation(id=1, command=PAY), Operation(id=2, command=cmd.Shutdown())
    own.add(first)
    own.add(second)
    assert (own.current, started, events) == (
        first,
        [first],
        [OperationQueued(operation=second, ahead=1)],
    )
    own.finish(Failed(FailureReason.CONFLICT, "rolled back", 3))
    failed: Event = OperationFailed(
        operation=first, reason=FailureReason.CONFLICT, detail="rolled back", error_code=3
    )
    assert events[-1] == failed
    assert (own.current, started) == (second, [first, second])
    own.finish(Accepted(None), start_next=False)
    assert events[-1] == OperationAccepted(operation=second, round=None)
    assert own.current is None
    with pytest.raises(AssertionError, match="no own operation is under way"):
        own.finish(Accepted(None))


def test_what_ends_each_operation_well() -> None:
    own, _events, _started = operations()
    assert not own.seen(Signal.SIGNED)  # nothing under way
    for row in OPERATIONS:
        if row.method is None:
            continue
        own.waiting.clear()
        own.current = Operation(id=1, command=_command(row.method))
        signal, info = ENDED_BY[row.ends or Ends.SIGNED]
        assert own.seen(signal, info=info)
        others = [s for s in Signal if s is not signal]
        assert not any(own.seen(s, info=info) for s in others)
    own.current = Operation(id=1, command=cmd.Shutdown())
    assert not own.seen(Signal.ON_CHAIN, info="solo_closing")


def _command(method: str) -> cmd.Command:
    found = {
        "channels.update.new": PAY,
        "channels.update.new_contract": cmd.NewContract(
            vm_version=7,
            abi_version=3,
            deposit=1,
            code="cb_ABQG4Fg=",
            call_data="cb_ABQG4Fg=",
        ),
        "channels.update.call_contract": cmd.CallContract(
            contract_id="ct_2MGLPW2CHTDXJhqFJezqSwYSNwbZokSKkG7wSbGtVmeyjGfHtm",
            abi_version=3,
            amount=0,
            call_data="cb_ABQG4Fg=",
        ),
        "channels.deposit": cmd.Deposit(amount=1),
        "channels.withdraw": cmd.Withdraw(amount=1),
        "channels.shutdown": cmd.Shutdown(),
        "channels.close_solo": cmd.CloseSolo(),
        "channels.slash": cmd.Slash(),
        "channels.settle": cmd.Settle(),
        "channels.snapshot_solo": cmd.SnapshotSolo(),
        "channels.force_progress": cmd.ForceProgress(
            contract_id="ct_2MGLPW2CHTDXJhqFJezqSwYSNwbZokSKkG7wSbGtVmeyjGfHtm",
            abi_version=3,
            amount=0,
            call_data="cb_ABQG4Fg=",
            gas_price=10**9,
        ),
    }
    return found[method]


def test_a_report_the_life_cycle_has_no_row_for_is_an_event() -> None:
    channel, node = opened()
    events = feed(channel, node.info("channel_reestablished"))
    assert ReportIgnored(state=ChannelState.OPEN, report=Input.CHANNEL_REESTABLISHED) in events
    assert not any(isinstance(e, StateChanged) for e in events)
    assert channel.state is ChannelState.OPEN
