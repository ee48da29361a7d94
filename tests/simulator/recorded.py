"""Play the client side of a recorded node session against the simulator.

The recorded clients' frames are sent as they were, with the recorded accounts, channel ids
and fsm ids replaced by the simulator's, and every sign reply signed again with our keys (the
recorded secret keys are not known). What each role receives is projected onto labels
(method, info event, on-chain info, error codes; ids and keys aside) and compared with what the
recording's node sent.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import attrs

from sansio_channels import crypto, rpc, txs
from sansio_channels.encoding import Id, IdTag
from sansio_channels.simulator import Connection, Simulator
from sansio_channels.simulator.harness import keypair
from sansio_channels.transcript import Entry, EntryKind

# What a node reports when a block comes: the player mines only when the recording shows it.
CHAIN_DRIVEN = frozenset(
    {
        "on_chain:channel_changed",
        "on_chain:solo_closing",
        "on_chain:can_slash",
        "on_chain:channel_closed",
        "info:own_funding_locked",
        "info:own_deposit_locked",
        "info:own_withdraw_locked",
        "info:closed_confirmed",
        "info:min_depth_achieved",
    }
)
MAX_BLOCKS = 50
# Where a client's frame, a connect or a disconnect starts a new step in the both-roles streams.
STEP = "|"


def label(frame: Any) -> str | None:
    """What a frame from the node says, ids aside; None for what is not compared."""
    if not isinstance(frame, dict):
        return "batch"
    method = frame.get("method")
    if method is None:
        if "error" in frame:
            error = frame["error"]
            codes = ",".join(str(item["code"]) for item in error.get("data", []))
            return f"error:{error['code']}:{codes}"
        return "ok" if frame.get("result") == "ok" else "result"
    data = frame["params"].get("data")
    if method == "channels.info":
        return f"info:{data['event']}"
    if method == "channels.on_chain_tx":
        return f"on_chain:{data['info']}"
    if method == "channels.conflict":
        return f"conflict:{data['error_code']}"
    if method.startswith("channels.sign."):
        return "sign:" + str(method)[len("channels.sign.") :]
    return str(method)


@attrs.define
class Session:
    """What each role got from the recorded node and from the simulator."""

    recorded: dict[str, list[str]] = attrs.Factory(lambda: {"initiator": [], "responder": []})
    simulated: dict[str, list[str]] = attrs.Factory(lambda: {"initiator": [], "responder": []})
    # Both roles in one stream, in the order the frames came: "role label".
    recorded_both: list[str] = attrs.Factory(list)
    simulated_both: list[str] = attrs.Factory(list)


class Player:
    """One recorded session (a group's preamble, then its case files) against a simulator."""

    def __init__(self, *, by_connection: bool = False) -> None:
        # by_connection: take each connection's frames in turn, in connect order (how the
        # server sent them before it kept the nodes' order across roles), to show that the
        # comparison of both roles' order sees the difference.
        self.by_connection = by_connection
        self.keys = {"initiator": keypair("recorded initiator"), "responder": keypair("rec r")}
        funded = {key.address: 10**30 for key in self.keys.values()}
        # Blocks come when the recording shows what they bring (see _mine_until).
        self.sim = Simulator(accounts=funded, auto_mine=False)
        self.ids: dict[str, str] = {}  # recorded ak_/ch_/ba_ -> the simulator's
        self.connections: dict[str, Connection] = {}  # each role's latest
        self._all: list[tuple[str, Connection]] = []  # and the earlier ones, still draining
        self._gone: set[Connection] = set()  # those the recorded client closed
        self._states: list[tuple[str, dict[str, int]]] = []  # co-signed states, oldest first
        self.session = Session()
        self._seen: dict[str, list[str]] = {"ch": [], "ba_initiator": [], "ba_responder": []}
        self._ours: dict[str, list[str]] = {"ch": [], "ba_initiator": [], "ba_responder": []}
        self._requests: dict[str, txs.SignedTx] = {}  # role -> our latest sign request's tx
        self._recorded_requests: dict[str, int] = {}  # role -> its signatures in the recording

    def play(self, entries: Sequence[Entry]) -> None:
        steps = [e for e in entries if e.kind is not EntryKind.INFO]
        for index, entry in enumerate(steps):
            following = steps[index + 1] if index + 1 < len(steps) else None
            self._step(entry, following)
            self._collect()

    def _step(self, entry: Entry, following: Entry | None) -> None:
        role = entry.role
        if entry.kind is not EntryKind.RECEIVED:
            # A client acts: what the node sends from here on is the next step's.
            self.session.recorded_both.append(STEP)
            self.session.simulated_both.append(STEP)
        if entry.kind is EntryKind.CONNECT:
            self._learn_accounts(entry.text)
            self.connections[role] = self.sim.connect(self._url(entry.text))
            self._all.append((role, self.connections[role]))
        elif entry.kind is EntryKind.DISCONNECT:
            # A role's oldest socket goes first (close_mutual closes one channel's after
            # the next channel opened).
            mine = [c for r, c in self._all if r == role and c not in self._gone]
            if mine:
                self._gone.add(mine[0])
                if not self.sim.is_closed(mine[0]):
                    self.sim.disconnect(mine[0])
        elif entry.kind is EntryKind.RECEIVED:
            self._learn_ids(role, entry.frame)
            if (found := label(entry.frame)) is not None:
                self.session.recorded[role].append(found)
                self.session.recorded_both.append(f"{role} {found}")
            if found == "info:timeout":
                self.sim.advance(self.sim.now + 3600)  # the recording waited for the timer
            if found == "on_chain:can_slash":
                self._cheat(role)
            if found in CHAIN_DRIVEN:
                self._mine_until(role, found)
        else:
            connection = self.connections[role]
            frame = self._frame(role, entry.frame)
            # The nodes talk once the clients stop sending: requests made together cross.
            together = following is not None and following.kind is EntryKind.SENT
            self.sim.receive(connection, frame, deliver=not together)

    def _mine_until(self, role: str, found: str) -> None:
        """Mine until ``role`` got as many ``found`` as the recording shows so far."""
        wanted = self.session.recorded[role].count(found)
        for _ in range(MAX_BLOCKS):
            self._collect()
            if self.session.simulated[role].count(found) >= wanted:
                return
            self.sim.mine(1)

    def _cheat(self, role: str) -> None:
        """The recorded test posted an old state out of band: post the one before the latest."""
        if self.session.simulated[role].count("on_chain:can_slash") >= self.session.recorded[
            role
        ].count("on_chain:can_slash"):
            return
        old = [state for state in self._states if state[0].startswith("tx_")][-2:-1]
        if old:
            self.sim.post_close_solo(old[0][0], old[0][1], self.keys["initiator"])

    def _collect(self) -> None:
        # In the order the simulator sent them, across both roles.
        sent = self.sim.outbound()
        if self.by_connection:
            order = [connection for _, connection in self._all]
            sent.sort(key=lambda item: order.index(item[0]))
        for connection, frame in sent:
            role = connection.role
            self._learn_ours(role, frame)
            if (found := label(frame)) is not None:
                self.session.simulated[role].append(found)
                self.session.simulated_both.append(f"{role} {found}")

    # --- ids -------------------------------------------------------------------------------

    def _learn_accounts(self, url: str) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        for role in ("initiator", "responder"):
            recorded = query.get(f"{role}_id")
            if recorded is not None and recorded not in self.ids and recorded != "any":
                if recorded.startswith("ak_1111"):
                    continue  # the recordings' unknown participant stays unknown
                self.ids[recorded] = self.keys[role].address

    def _learn_ids(self, role: str, frame: Any) -> None:
        for key, value in _ids_in(role, frame):
            if value not in self._seen[key]:
                self._seen[key].append(value)
        self._match()

    def _learn_ours(self, role: str, frame: Any) -> None:
        for key, value in _ids_in(role, frame):
            if value not in self._ours[key]:
                self._ours[key].append(value)
        self._match()
        method = str(frame.get("method", "")) if isinstance(frame, dict) else ""
        if method.startswith("channels.sign."):
            self._requests[role] = txs.decode_signed_tx(frame["params"]["data"]["signed_tx"])
        if method == "channels.update" and role == "initiator":
            state = frame["params"]["data"]["state"]
            fsm = next(f for f in self.sim.fsms if f.role.value == role)
            assert fsm.latest is not None
            balances = {Id(IdTag.ACCOUNT, k).api: v for k, v in fsm.latest.balances.items()}
            self._states.append((state, balances))

    def _match(self) -> None:
        for key, recorded in self._seen.items():
            for theirs, ours in zip(recorded, self._ours[key], strict=False):
                self.ids.setdefault(theirs, ours)

    def _replace(self, text: str) -> str:
        for theirs, ours in self.ids.items():
            text = text.replace(theirs, ours)
        return text

    def _url(self, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        query = [(k, self._replace(v)) for k, v in urllib.parse.parse_qsl(parts.query)]
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    # --- frames ----------------------------------------------------------------------------

    def _frame(self, role: str, frame: Any) -> Any:
        frame = json.loads(self._replace(json.dumps(frame)))
        if not isinstance(frame, dict):
            return frame
        method = frame.get("method")
        params = frame.get("params")
        is_reply = isinstance(method, str) and rpc.sign_tag_for_reply(method) is not None
        if not is_reply or not isinstance(params, dict) or "signed_tx" not in params:
            return frame
        request = self._requests.get(role)
        if request is None:
            return frame
        recorded = txs.decode_signed_tx(params["signed_tx"])
        network = self.sim.network_id
        signed = crypto.sign(request, self.keys[role], network)
        if len(recorded.signatures) > len(request.signatures) + 1:
            # The recorded client signed for its absent peer too (reconnect/*).
            other = "responder" if role == "initiator" else "initiator"
            signed = crypto.sign(signed, self.keys[other], network)
        return {**frame, "params": {**params, "signed_tx": txs.encode_tx(signed)}}


def _ids_in(role: str, frame: Any) -> Iterator[tuple[str, str]]:
    """The channel and fsm ids a frame from the node names, in order."""
    if not isinstance(frame, dict):
        return
    channel = frame.get("channel_id") or (frame.get("params") or {}).get("channel_id")
    if isinstance(channel, str):
        yield "ch", channel
    data = (frame.get("params") or {}).get("data")
    if isinstance(data, dict) and isinstance(data.get("fsm_id"), str):
        yield f"ba_{role}", data["fsm_id"]


def play(entries_of_files: Sequence[Sequence[Entry]], *, by_connection: bool = False) -> Session:
    player = Player(by_connection=by_connection)
    for entries in entries_of_files:
        player.play(entries)
    return player.session


# Reports that follow a block both nodes see at once: which node reports first is timing.
_AFTER_BLOCK = frozenset({"info:open", "info:deposit_locked", "info:withdraw_locked"})


def step_ends(both: Sequence[str]) -> list[str]:
    """The reports that end a step, from the stream of both roles, in their order across
    the roles: ``channels.update``, ``channels.leave`` and conflicts. A node reports to its
    own client before its peer hears of the step, so the order between the roles is the
    node's (the side that acknowledges an update gets its ``channels.update`` first). Left
    out: the updates after a lock (both nodes act on the same block; the order is timing)."""
    last: dict[str, str] = {}
    out = []
    for item in both:
        if item == STEP:
            continue
        role, found = item.split(" ", 1)
        after_block = found == "channels.update" and last.get(role) in _AFTER_BLOCK
        if not after_block and (
            found in ("channels.update", "channels.leave") or found.startswith("conflict:")
        ):
            out.append(item)
        last[role] = found
    return out


def canonical(labels: Sequence[str]) -> list[str]:
    """``labels`` with the reply to ``channels.system stop`` and the ``died`` it causes in one
    order: the recordings have them both ways round, even within one session."""
    out = list(labels)
    for i in range(len(out) - 1):
        if out[i] == "info:died" and out[i + 1] == "ok":
            out[i], out[i + 1] = "ok", "info:died"
    return out
