"""What the audit log says in the admins' chat: witness lines and command replies.

Pure functions over values (no I/O, no platform), so the chat layer only has to send
the strings, and tests pin them exactly. The witness line is the external evidence:
once an admin's chat holds ``MEDCRYPT-AUDIT v1 seq=... head=... ts=... sig=...``, a
database writer who rewrites or truncates the log is caught by
``medcrypt-bot audit verify --witness FILE`` with the lines pasted into FILE. Replies
carry sequence numbers, hashes and reasons only - never details, refs or names.
"""

from __future__ import annotations

from datetime import UTC, datetime

from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    Checkpoint,
    VerifyReport,
    Witness,
    format_witness,
    parse_witness_lines,
)
from medcrypt.storage.audit import Head

WITNESS_INTRO = "Audit checkpoint - keep this line (it proves the log is untouched):"
#: What an unwitnessed OK cannot rule out, and how to check it (chat and CLI alike).
NOT_WITNESSED = ("Not checked against witness lines: history cut back to a checkpoint would "
                 "not show. Send /audit_verify with the latest witness line from this chat, "
                 "or run `medcrypt-bot audit verify --witness FILE`.")


def witness_line(checkpoint: Checkpoint) -> str:
    """The single copyable line for a checkpoint."""
    return format_witness(checkpoint)


def witness_post(checkpoint: Checkpoint) -> str:
    """The chat message posted for each checkpoint: one sentence, then the line."""
    return f"{WITNESS_INTRO}\n{format_witness(checkpoint)}"


def parse_witness_text(text: str) -> list[Witness]:
    """Witness lines from pasted chat text (an export, a forward, a notes file).

    Other lines are ignored; a line that starts like a witness but is damaged raises
    :class:`crypto.errors.MalformedToken` rather than being skipped.
    """
    return parse_witness_lines(text)


def _when(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us // 1_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_head_reply(head: Head) -> str:
    """Reply to ``/audit_head``: where the log stands and the last witness line."""
    if head.seq == 0:
        return "Audit log is empty."
    lines = [f"Audit head: seq {head.seq}, hash {head.entry_hash.hex()[:32]}"]
    cp = head.last_checkpoint
    if cp is None:
        lines.append("No signed checkpoint yet.")
    else:
        unsigned = head.seq - cp.seq
        lines.append(f"Last checkpoint: seq {cp.seq} at {_when(cp.ts_us)}"
                     + (f" ({unsigned} newer entries not yet signed)" if unsigned else ""))
        lines.append(format_witness(cp))
    return "\n".join(lines)


def render_verify_reply(
    result: VerifyReport | AuditChainBroken, *, witnesses_given: int = 0
) -> str:
    """Reply to ``/audit_verify``: OK with counts, or the first bad seq and why.

    An OK says first whether witness lines were part of the check: without them a log
    cut back exactly to a genuine checkpoint still verifies, so "not witnessed" is the
    honest verdict, with how to get the stronger one.
    """
    if isinstance(result, AuditChainBroken):
        return (f"AUDIT LOG BROKEN at seq {result.seq}: {result.reason}.\n"
                "Do not trust entries from that point; keep the database as it is and "
                "run `medcrypt-bot audit verify --witness FILE` with the chat's witness lines.")
    seen = (f"witnessed up to seq {result.witnessed_seq}" if result.witnessed_seq
            else "not witnessed")
    lines = [f"Audit log OK, {seen}: {result.entries} entries, head seq {result.head_seq} "
             f"({result.head_hash.hex()[:16]}), {result.checkpoints} signed checkpoints."]
    if witnesses_given or result.witnesses:
        lines.append(f"Witness lines matched: {result.witnesses} of {witnesses_given}.")
    else:
        lines.append(NOT_WITNESSED)
    if result.last_checkpoint_seq:
        lines.append(f"Last checkpoint: seq {result.last_checkpoint_seq} at "
                     f"{_when(result.last_checkpoint_ts_us)}.")
    if result.unsigned_tail:
        lines.append(f"{result.unsigned_tail} newest entries are not yet covered by a "
                     "checkpoint.")
    lines.extend(f"Restored from a backup at {_when(mark.ts_us)} (signed, seq {mark.seq}): "
                 f"entries written before then from seq {mark.seq} on were lost; `audit "
                 f"export --from {mark.seq} --to {mark.seq}` names the range."
                 for mark in result.restores)
    if result.witnesses_set_aside:
        lines.append(f"{result.witnesses_set_aside} witness lines belong to the history a "
                     "restore lost and were not checked against this chain.")
    return "\n".join(lines)


def render_verify_progress(done: int) -> str:
    """A status line for long verifications (edited in place by the chat layer)."""
    return f"Verifying the audit log... {done:,} entries checked"
