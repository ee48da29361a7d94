"""What we asked the node and it has not answered yet, and which operation an answer ends.

Requests go out with ids and their replies come back by id; a query may also be answered by a
``.reply`` notification (matched by its method), and a request sent without an id comes back,
if refused, in the error's echo of it. Our latest sign reply is waited for by id too: the node
answers "ok" or an error, and only for the latest. :class:`NodeRequests` keeps this book for
one channel; it receives operations and replies and returns operations, and sends nothing
itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from . import commands as cmd
from . import rpc
from .errors import RemoteProtocolError
from .events import Operation

__all__ = ["NodeRequests"]

# The .reply notifications not named after the query they answer -> that query's method.
_REPLY_METHODS: Final = {"channels.calls_pruned.reply": "channels.clean_contract_calls"}


class NodeRequests:
    """The requests of one channel waiting for the node's answer.

    ``queries`` are the queries not answered yet, oldest first; ``leave`` the leave notice
    waiting for its ``channels.leave`` (the node's "ok" does not end it).
    """

    # Every channel holds one: slots keep an idle channel small (bench/run.py's memory figure).
    __slots__ = ("_ids", "_reply_id", "_table", "leave", "queries")

    def __init__(self) -> None:
        self._table: rpc.RequestTable[Operation | None] = rpc.RequestTable()
        self._ids: dict[int, rpc.RequestId] = {}  # operation id -> its request id
        self._reply_id: rpc.RequestId | None = None  # the latest sign reply's request id
        self.queries: list[Operation] = []
        self.leave: Operation | None = None

    def request(self, operation: Operation) -> dict[str, Any]:
        """The request frame of ``operation``, waited for from now on."""
        command = operation.command
        frame = self._table.request(command.METHOD, command.params(), context=operation)
        self._ids[operation.id] = frame["id"]
        if command.KIND is cmd.CommandKind.QUERY:
            self.queries.append(operation)
        elif isinstance(command, cmd.Leave):
            self.leave = operation
        return frame

    def reply(self, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The frame of a sign reply. It carries an id, so that the node's "ok" (or error) is
        matched; an earlier reply's id is dropped, since the node only answers the latest."""
        if self._reply_id is not None:
            self._table.discard(self._reply_id)
        frame = self._table.request(method, params, context=None)
        self._reply_id = frame["id"]
        return frame

    def pending(self, operation: Operation) -> bool:
        """Whether the node has not answered ``operation``'s request (nor taken it otherwise)."""
        return operation.id in self._ids

    def forget(self, operation: Operation) -> None:
        """Stop waiting for an answer to ``operation``'s request (it was taken another way)."""
        request_id = self._ids.pop(operation.id, None)
        if request_id is not None:
            self._table.discard(request_id)

    def answered_by(self, reply_method: str) -> Operation:
        """The oldest query that a ``.reply`` notification of ``reply_method`` answers."""
        method = _REPLY_METHODS.get(reply_method, reply_method.removesuffix(".reply"))
        for operation in self.queries:
            if method == operation.command.METHOD:
                self.queries.remove(operation)
                self.forget(operation)
                return operation
        raise RemoteProtocolError(f"a {method} reply that answers no query")

    def result(self, reply: rpc.ResultReply) -> Operation | None:
        """The operation ``reply`` answers; None for the node's "ok" to a sign reply."""
        pending = self._table.match(reply)
        operation = None if pending is None else pending.context
        if operation is not None:
            self._ids.pop(operation.id, None)
        return operation

    def take_query(self, operation: Operation) -> bool:
        """Whether ``operation`` is a query not answered yet; it is no longer waited for."""
        if operation in self.queries:
            self.queries.remove(operation)
            return True
        return False

    def error(self, reply: rpc.ErrorReply, current: Operation | None) -> Operation | None:
        """The operation an error reply answers: by its id, or for a request sent without one,
        the query or the own operation under way (``current``) whose request it echoes."""
        pending = self._table.match(reply)  # None: the reply has no id
        if pending is not None:
            operation = pending.context
            if operation is not None:
                self._ids.pop(operation.id, None)
            return operation
        if not reply.request:
            return None
        method, params = reply.request.get("method"), reply.request.get("params")
        for operation in [*self.queries, *([current] if current else [])]:
            command = operation.command
            if method == command.METHOD and command.params() == (params or {}):
                return operation
        return None

    def took_leave(self) -> Operation | None:
        """The leave notice that ``channels.leave`` ends, if one is waiting."""
        leave, self.leave = self.leave, None
        return leave

    def drop_all(self) -> list[Operation]:
        """The connection is gone: the queries and notices that were waiting, which fail (they
        may or may not have reached the node). Own operations stay waited for until the node
        is back and says what became of them."""
        dropped: list[Operation] = []
        for pending in self._table.drop_all():
            operation = pending.context
            if operation is None or operation.command.KIND is cmd.CommandKind.OPERATION:
                continue
            self.take_query(operation)
            if operation is self.leave:
                self.leave = None
            self._ids.pop(operation.id, None)
            dropped.append(operation)
        return dropped
