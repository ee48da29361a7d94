"""The replay notices when a recording and the library disagree: doctored recordings fail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest

from sansio_channels import transcript, txs
from sansio_channels.cli import main
from sansio_channels.replay import replay_files
from sansio_channels.transcript import Entry, EntryKind

from .recordings import TRANSCRIPTS

SOURCE = TRANSCRIPTS / "sc_ws_close_mutual.md"
NETWORK = "local_iris_testnet"


def doctored(tmp_path: Path, change: Callable[[list[Entry]], None]) -> list[str]:
    entries = transcript.parse_file(str(SOURCE))
    change(entries)
    path = tmp_path / "doctored.md"
    path.write_text(transcript.render(entries), encoding="utf-8")
    return [m for f in replay_files([str(path)], NETWORK).files for m in f.mismatches]


def first(entries: list[Entry], kind: EntryKind, test: Callable[[Any], bool]) -> int:
    return next(
        i
        for i, e in enumerate(entries)
        if e.kind is kind and (kind is EntryKind.CONNECT or test(e.frame))
    )


def with_frame(entry: Entry, frame: Any) -> Entry:
    return attrs.evolve(entry, text=transcript.frame_text(frame))


def test_the_undoctored_recording_replays(tmp_path: Path) -> None:
    assert doctored(tmp_path, lambda entries: None) == []


def test_a_frame_the_protocol_does_not_know(tmp_path: Path) -> None:
    def change(entries: list[Entry]) -> None:
        i = first(entries, EntryKind.RECEIVED, lambda f: f.get("method") == "channels.info")
        frame = entries[i].frame
        frame["method"] = "channels.gossip"
        entries[i] = with_frame(entries[i], frame)

    (mismatch, *_) = doctored(tmp_path, change)
    assert "protocol violation: unknown notification 'channels.gossip'" in mismatch


def test_a_sign_request_the_client_should_not_have_signed(tmp_path: Path) -> None:
    def change(entries: list[Entry]) -> None:
        i = first(
            entries, EntryKind.RECEIVED, lambda f: f.get("method") == "channels.sign.shutdown_sign"
        )
        frame = entries[i].frame
        # The close tx now pays the initiator one more aetto than its balance.
        signed = txs.decode_signed_tx(frame["params"]["data"]["signed_tx"])
        tx = signed.transaction
        assert isinstance(tx, txs.ChannelCloseMutualTx)
        more = attrs.evolve(tx, initiator_amount_final=tx.initiator_amount_final + 1)
        frame["params"]["data"]["signed_tx"] = txs.encode_tx(attrs.evolve(signed, transaction=more))
        entries[i] = with_frame(entries[i], frame)

    mismatches = doctored(tmp_path, change)
    assert any("shutdown_sign failed the checks: final_amounts" in m for m in mismatches)


def test_a_reply_with_a_broken_signature(tmp_path: Path) -> None:
    def change(entries: list[Entry]) -> None:
        i = first(entries, EntryKind.SENT, lambda f: f.get("method") == "channels.initiator_sign")
        frame = entries[i].frame
        text = frame["params"]["signed_tx"]
        frame["params"]["signed_tx"] = text[:-10] + ("A" if text[-10] != "A" else "B") + text[-9:]
        entries[i] = with_frame(entries[i], frame)

    mismatches = doctored(tmp_path, change)
    assert any("the typed API refused" in m for m in mismatches)


def test_a_connect_url_the_library_would_not_build(tmp_path: Path) -> None:
    def change(entries: list[Entry]) -> None:
        i = first(entries, EntryKind.CONNECT, lambda f: True)
        entries[i] = attrs.evolve(entries[i], text=entries[i].text + "&colour=blue")

    mismatches = doctored(tmp_path, change)
    assert any("URL refused" in m and "colour" in m for m in mismatches)


@pytest.mark.parametrize("network", ["ae_mainnet", "ae_uat"])
def test_another_network_id_breaks_every_signature(tmp_path: Path, network: str) -> None:
    report = replay_files([str(SOURCE)], network)
    assert report.mismatched > 0


def test_frames_emitted_out_of_the_recorded_order(tmp_path: Path) -> None:
    """The recorded client asks for a second transfer, then signs the first; the library keeps
    the second until the first has ended, so it emits the signed reply first. The frames are
    the recorded ones, in another order: a mismatch at the reply."""
    source = TRANSCRIPTS / "sc_ws_update_with_meta.md"
    entries = transcript.parse_file(str(source))
    # The initiator's last transfer, its sign request and reply; the file is cut before the
    # responder's next one, so that nothing answers the second transfer.
    new = max(
        i
        for i, e in enumerate(entries)
        if e.role == "initiator"
        and e.kind is EntryKind.SENT
        and e.frame.get("method") == "channels.update.new"
    )
    reply = first_after(entries, new, EntryKind.SENT, "channels.update")
    end = first_after(entries, reply, EntryKind.SENT, "channels.update.new")
    path = tmp_path / "cut.md"
    path.write_text(transcript.render(entries[:end]), encoding="utf-8")
    assert replay_files([str(path)], NETWORK).mismatched == 0
    doctored_entries = [*entries[: new + 1], entries[new], *entries[new + 1 : end]]
    path.write_text(transcript.render(doctored_entries), encoding="utf-8")
    (file,) = replay_files([str(path)], NETWORK).files
    assert file.mismatches != []
    assert "out of order" in file.mismatches[0]
    assert "channels.update" in file.mismatches[0]


def first_after(entries: list[Entry], index: int, kind: EntryKind, method: str) -> int:
    return next(
        i
        for i, e in enumerate(entries)
        if i > index and e.kind is kind and e.frame.get("method") == method
    )


SOLO_CLOSE = TRANSCRIPTS / "abort_updates" / "sc_ws_abort_settle.md"


def test_the_checks_that_could_not_be_made_are_counted() -> None:
    (file,) = replay_files([str(SOLO_CLOSE)], NETWORK).files
    assert (file.mismatched, file.not_checked, dict(file.unchecked)) == (0, 1, {"poi": 1})
    (clean,) = replay_files([str(SOURCE)], NETWORK).files
    assert (clean.mismatched, clean.not_checked) == (0, 0)


def test_require_checked_fails_a_file_with_a_check_not_made(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["replay", "--network-id", NETWORK, str(SOLO_CLOSE)]
    assert main(args) == 0
    assert "  not checked: poi 1\n" in capsys.readouterr().out
    assert main([*args[:-1], "--require-checked", args[-1]]) == 1
    assert "FAILED: --require-checked" in capsys.readouterr().out
    assert main(["replay", "--network-id", NETWORK, "--require-checked", str(SOURCE)]) == 0
    assert capsys.readouterr().out.endswith("0 mismatched, 0 not checked\n")
