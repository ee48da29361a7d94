"""The book of what we asked the node: which operation each answer ends, and what a lost
connection leaves waiting."""

from __future__ import annotations

import pytest

from sansio_channels import commands as cmd
from sansio_channels import rpc
from sansio_channels.errors import RemoteProtocolError
from sansio_channels.events import Operation
from sansio_channels.node_requests import NodeRequests

PAY = cmd.Transfer(
    from_id="ak_2MGLPW2CHTDXJhqFJezqSwYSNwbZokSKkG7wSbGtVmeyjGfHtm",
    to_id="ak_25BWMx4An9mmQJNPSwJisiENek3bAGadze31Eetj4K4JJC8VQN",
    amount=1,
)


def test_a_reply_notification_answers_the_oldest_query_of_its_method() -> None:
    book = NodeRequests()
    balances = Operation(id=1, command=cmd.GetBalances(accounts=()))
    state, later = (Operation(id=n, command=cmd.GetOffchainState()) for n in (2, 3))
    for operation in (balances, state, later):
        book.request(operation)
    assert book.answered_by("channels.get.offchain_state.reply") is state
    assert book.queries == [balances, later]
    assert not book.pending(state)
    book.forget(state)  # answered already: nothing left to forget
    assert book.pending(balances)
    assert book.pending(later)
    with pytest.raises(RemoteProtocolError, match="answers no query"):
        book.answered_by("channels.get.contract.reply")
    # The one reply not named after its query.
    prune = Operation(id=4, command=cmd.CleanContractCalls())
    book.request(prune)
    assert book.answered_by("channels.calls_pruned.reply") is prune


def test_an_error_without_id_is_matched_by_its_echo() -> None:
    book = NodeRequests()
    query = Operation(id=1, command=cmd.GetOffchainState())
    own = Operation(id=2, command=PAY)
    book.request(query)
    book.request(own)
    echo = {"method": PAY.METHOD, "params": PAY.params()}
    error = rpc.ErrorReply(id=None, code=3, message="bad", request=echo)
    assert book.error(error, own) is own
    assert book.error(error, None) is None  # no own operation under way: nothing it echoes
    other = {"method": "channels.get.balances", "params": {"accounts": []}}
    assert book.error(rpc.ErrorReply(id=None, code=3, message="bad", request=other), own) is None
    assert book.error(rpc.ErrorReply(id=None, code=3, message="bad"), own) is None


def test_an_error_to_our_sign_reply_ends_no_operation() -> None:
    book = NodeRequests()
    frame = book.reply("channels.update", {"signed_tx": "tx_"})
    assert book.error(rpc.ErrorReply(id=frame["id"], code=3, message="bad"), None) is None
    with pytest.raises(RemoteProtocolError, match="unknown request id"):
        book.error(rpc.ErrorReply(id=frame["id"], code=3, message="bad"), None)


def test_only_the_latest_sign_reply_is_waited_for() -> None:
    book = NodeRequests()
    first = book.reply("channels.update", {"signed_tx": "tx_1"})
    second = book.reply("channels.update", {"signed_tx": "tx_2"})
    with pytest.raises(RemoteProtocolError, match="unknown request id"):
        book.result(rpc.ResultReply(id=first["id"], result="ok"))
    assert book.result(rpc.ResultReply(id=second["id"], result="ok")) is None


def test_a_lost_connection_drops_queries_and_notices_but_keeps_own_operations() -> None:
    book = NodeRequests()
    query = Operation(id=1, command=cmd.GetOffchainState())
    leave = Operation(id=2, command=cmd.Leave())
    own = Operation(id=3, command=PAY)
    for operation in (query, leave, own):
        book.request(operation)
    book.reply("channels.update", {"signed_tx": "tx_"})
    assert book.leave is leave
    assert book.drop_all() == [query, leave]
    assert book.queries == []
    assert book.pending(own)
    assert not book.pending(query)
    assert book.took_leave() is None
