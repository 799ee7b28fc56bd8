"""bot.audit_chat: the exact strings the admins see, and parsing them back."""

from __future__ import annotations

from medcrypt.bot.domain.audit_chat import (
    NOT_WITNESSED,
    parse_witness_text,
    render_head_reply,
    render_verify_progress,
    render_verify_reply,
    witness_line,
    witness_post,
)
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import CheckpointSigner, VerifyReport
from medcrypt.storage.audit import Head

SIGNER = CheckpointSigner(bytes(range(1, 33)))
CP = SIGNER.sign(1000, 1795435200_000000, bytes(range(32)), b"")


def test_witness_post_round_trips_through_a_chat_export() -> None:
    post = witness_post(CP)
    assert post.splitlines()[1] == witness_line(CP)
    assert len(witness_line(CP)) < 200  # fits any chat line, copyable in one go
    chat_export = f"[23/11/2026, 12:00] MedCrypt Bot: {post}\n[12:01] Ana: ok\n"
    (w,) = parse_witness_text(chat_export)
    assert (w.seq, w.sig, w.ts_us) == (1000, CP.sig, CP.ts_us)


def test_head_reply() -> None:
    assert render_head_reply(Head(0, bytes(32), None)) == "Audit log is empty."
    unsigned = render_head_reply(Head(3, b"\xab" * 32, None))
    assert unsigned == f"Audit head: seq 3, hash {'ab' * 16}\nNo signed checkpoint yet."
    reply = render_head_reply(Head(1004, b"\xcd" * 32, CP))
    assert reply.splitlines() == [
        f"Audit head: seq 1004, hash {'cd' * 16}",
        "Last checkpoint: seq 1000 at 2026-11-23 12:00 UTC (4 newer entries not yet signed)",
        witness_line(CP),
    ]


def test_verify_replies() -> None:
    ok = VerifyReport(entries=1004, head_seq=1004, head_hash=b"\x01" * 32, checkpoints=1,
                      last_checkpoint_seq=1000, witnesses=1, witnessed_seq=1000,
                      last_checkpoint_ts_us=CP.ts_us, coverage_checked=True)
    assert render_verify_reply(ok, witnesses_given=1).splitlines() == [
        "Audit log OK, witnessed up to seq 1000: 1004 entries, head seq 1004 "
        "(0101010101010101), 1 signed checkpoints.",
        "Witness lines matched: 1 of 1.",
        "Last checkpoint: seq 1000 at 2026-11-23 12:00 UTC.",
        "4 newest entries are not yet covered by a checkpoint.",
    ]
    alone = VerifyReport(entries=1000, head_seq=1000, head_hash=b"\x01" * 32, checkpoints=1,
                         last_checkpoint_seq=1000, witnesses=0,
                         last_checkpoint_ts_us=CP.ts_us, coverage_checked=True)
    assert render_verify_reply(alone).splitlines() == [
        "Audit log OK, not witnessed: 1000 entries, head seq 1000 (0101010101010101), "
        "1 signed checkpoints.",
        NOT_WITNESSED,
        "Last checkpoint: seq 1000 at 2026-11-23 12:00 UTC.",
    ]
    assert "/audit_verify" in NOT_WITNESSED and "--witness" in NOT_WITNESSED
    bad = render_verify_reply(AuditChainBroken(77, "entry missing: seq 77 was deleted"))
    assert bad.startswith("AUDIT LOG BROKEN at seq 77: entry missing: seq 77 was deleted.")
    assert render_verify_progress(1234567) == "Verifying the audit log... 1,234,567 entries checked"
