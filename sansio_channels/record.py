"""The channel's durable record: what must survive a crash to resume the channel.

A record holds the channel id, the fsm id of the latest ``fsm_up`` (without it the node cannot
restore the channel), the connect parameters, the life-cycle state, the latest co-signed state
with its round and the balances in it, what we signed that is not co-signed yet (written
ahead of the signature leaving) with the balances and contracts it holds, and the code of the
contracts co-signed states created. It never holds a secret key. It is JSON-able, so any store
can keep it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import attrs

from .checks import derived_channel_id
from .dispute import DisputeAction, DisputePolicy, DisputeWatch
from .encoding import Id
from .errors import LocalProtocolError
from .options import ConnectOptions, ReestablishOptions, from_query_params
from .state import ChannelState
from .txs import decode_signed_tx

if TYPE_CHECKING:
    from .ledger import Ledger, Participants

__all__ = ["RECORD_VERSION", "ChannelRecord"]

# 2: ``closing``, ``dispute``, ``dispute_info``, ``contracts``, ``signed_ahead_contracts`` and
# ``abandoned`` were added to version 1 (which may hold some of them already); a record of
# version 1 reads with the ones it lacks at their defaults.
RECORD_VERSION: Final = 2


@attrs.frozen(kw_only=True)
class ChannelRecord:
    """What must survive a crash to resume a channel: ids, connect parameters, the latest
    co-signed state and what we signed ahead of it. JSON-able; never holds a secret key."""

    version: int = RECORD_VERSION
    network_id: str
    role: str
    account: str  # our ak_
    peer: str | None  # the peer's ak_, once known
    channel_id: str | None
    fsm_id: str | None
    options: Mapping[str, str] = attrs.field(hash=False)  # the connect URL's parameters
    state: str  # a ChannelState value
    latest_state: str | None  # the latest co-signed state, a tx_ string
    latest_round: int | None
    balances: Mapping[str, int] | None = attrs.field(hash=False)  # ak_ -> balance, if known
    # What we signed and is not co-signed yet: {round: tx_ string we signed}, written before
    # the signature leaves; and the balances each of those states holds, where known.
    signed_ahead: Mapping[int, str] = attrs.field(factory=dict, hash=False)
    signed_ahead_balances: Mapping[int, Mapping[str, int]] = attrs.field(factory=dict, hash=False)
    # The contracts each of those states creates ({round: {ct_: cb_}}), so that a resumed
    # channel learns them when the state comes back co-signed. The tx we signed cannot tell
    # them: an off-chain tx holds only the state hash, its updates travel beside it.
    signed_ahead_contracts: Mapping[int, Mapping[str, str]] = attrs.field(factory=dict, hash=False)
    # The mutual close tx we signed (tx_), written before the signature leaves. A node that
    # refuses to come back to a channel after a crash during its close may have closed it on
    # chain: this is the tx to look for there.
    closing: str | None = None
    # The dispute action due on a channel closing on chain ("slash" or "settle") and the
    # node's report that made it due: a resumed channel carries it on.
    dispute: str | None = None
    dispute_info: str | None = None
    # The code of every contract a co-signed state created (ct_ -> cb_), so that a resumed
    # channel still decodes calls to them. Records made before it was kept load as none.
    contracts: Mapping[str, str] = attrs.field(factory=dict, hash=False)
    # Why an open that can never finish was given up (its FSM is gone and nothing names a
    # channel to come back to); such a record is kept for the application, never resumed.
    abandoned: str | None = None

    @classmethod
    def of(
        cls,
        participants: Participants,
        *,
        channel_id: str | None,
        fsm_id: str | None,
        options: ConnectOptions,
        state: ChannelState,
        ledger: Ledger,
        dispute: DisputeWatch,
    ) -> ChannelRecord:
        """The record of a channel now, from what it holds (:meth:`Channel.record` calls
        this): who takes part, its ids, connect options and life-cycle state, the ledger of
        its states and the dispute under way."""
        latest = ledger.latest
        return cls(
            network_id=participants.network_id,
            role=participants.role.value,
            account=participants.account.api,
            peer=None if participants.peer is None else participants.peer.api,
            channel_id=channel_id,
            fsm_id=fsm_id,
            options=options.query_params(),
            state=state.value,
            latest_state=None if latest is None else latest.tx,
            latest_round=None if latest is None else latest.round,
            balances=ledger.balances_api(),
            signed_ahead=ledger.signed_ahead(),
            signed_ahead_balances=ledger.signed_ahead_balances(),
            signed_ahead_contracts=ledger.signed_ahead_contracts(),
            closing=ledger.closing,
            dispute=None if dispute.due is None else dispute.due.value,
            dispute_info=dispute.info or None,
            contracts=ledger.contracts_api(),
        )

    @property
    def finished(self) -> bool:
        """Closed, or an open given up: nothing is left to drive (a store keeps it apart)."""
        return self.state == ChannelState.CLOSED.value or self.abandoned is not None

    @property
    def resumable(self) -> bool:
        """Whether a client can come back to the channel from this record: the node knows it
        (its fsm id is known, and its channel id, or the create tx we signed names it) and it
        is not closed or given up."""
        return (
            self.abandoned is None
            and self.fsm_id is not None
            and self.state != ChannelState.CLOSED.value
            and self.known_channel_id() is not None
        )

    def known_channel_id(self) -> str | None:
        """The channel id; before the node has told it, the one the create tx we signed names
        (a crash after our signature left and before ``funding_signed`` came back)."""
        if self.channel_id is not None:
            return self.channel_id
        create = self.signed_ahead.get(1)
        derived = None if create is None else derived_channel_id(decode_signed_tx(create))
        return None if derived is None else derived.api

    def signed_create_tx(self) -> str | None:
        """The create tx we signed (tx_), if this record holds one: written ahead of our
        signature, or co-signed as the latest state. Once it left, the channel it names may
        go on chain whatever becomes of our client."""
        if 1 in self.signed_ahead:
            return self.signed_ahead[1]
        return self.latest_state if self.latest_round == 1 else None

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON values (:meth:`from_json` reads it back)."""
        view = attrs.asdict(self)
        view["signed_ahead"] = {str(k): v for k, v in self.signed_ahead.items()}
        view["signed_ahead_balances"] = {
            str(k): dict(v) for k, v in self.signed_ahead_balances.items()
        }
        view["signed_ahead_contracts"] = {
            str(k): dict(v) for k, v in self.signed_ahead_contracts.items()
        }
        view["contracts"] = dict(self.contracts)
        return view

    @classmethod
    def from_json(cls, view: Mapping[str, Any]) -> ChannelRecord:
        """A record from :meth:`to_json`'s output, of this version or an older one (read as
        this one: what it lacks takes its default); a newer version, or a wrong shape, is
        refused."""
        version = view.get("version") if isinstance(view, Mapping) else None
        if type(version) is int and version > RECORD_VERSION:
            raise LocalProtocolError(
                f"a channel record of version {version}, written by a newer sansio-channels "
                f"(this one reads versions up to {RECORD_VERSION}): upgrade to read it"
            )
        if type(version) is not int or version < 1:
            raise LocalProtocolError(
                f"not a channel record (version {version!r}; this one reads 1 to {RECORD_VERSION})"
            )
        try:
            ahead = {int(k): v for k, v in dict(view.get("signed_ahead") or {}).items()}
            ahead_balances = {
                int(k): dict(v) for k, v in dict(view.get("signed_ahead_balances") or {}).items()
            }
            ahead_contracts = {
                int(k): _contracts(v)
                for k, v in dict(view.get("signed_ahead_contracts") or {}).items()
            }
            contracts = _contracts(view.get("contracts"))
            return cls(
                **{
                    **view,
                    "version": RECORD_VERSION,
                    "signed_ahead": ahead,
                    "signed_ahead_balances": ahead_balances,
                    "signed_ahead_contracts": ahead_contracts,
                    "contracts": contracts,
                }
            )
        except (TypeError, ValueError) as exc:
            raise LocalProtocolError(f"malformed channel record: {exc}") from None

    def reestablish_options(self) -> ReestablishOptions:
        """The options to come back to the channel with: the recorded connect parameters,
        with the channel id and the fsm id to reestablish."""
        options = from_query_params(self.options)
        channel_id = self.known_channel_id()
        if channel_id is not None and self.fsm_id is not None:
            options = options.reestablish(
                existing_channel_id=channel_id, existing_fsm_id=self.fsm_id
            )
        if not isinstance(options, ReestablishOptions):
            raise LocalProtocolError("the record has no channel id and fsm id to come back to")
        return options

    def dispute_watch(self, policy: DisputePolicy | None) -> DisputeWatch:
        """The dispute as recorded (the action due and the report that made it due), run by
        ``policy`` (the defaults when None)."""
        due = None if self.dispute is None else DisputeAction(self.dispute)
        info = (self.dispute_info or "") if due is not None else ""
        return DisputeWatch(policy or DisputePolicy(), due=due, info=info)

    def peer_id(self) -> Id | None:
        """The peer's account, if the record knows it."""
        return None if self.peer is None else Id.account(self.peer)


def _contracts(view: Any) -> dict[str, str]:
    """Contracts as a record keeps them (``ct_`` -> ``cb_``); none when absent."""
    return {str(k): str(v) for k, v in dict(view or {}).items()}
