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

from medcrypt.bot.domain.i18n import N_, SOURCE_LANGUAGE, Nn_, translate, translate_plural
from medcrypt.crypto.errors import AuditChainBroken
from medcrypt.crypto.server.audit import (
    Checkpoint,
    VerifyReport,
    Witness,
    format_witness,
    parse_witness_lines,
)
from medcrypt.storage.audit import Head

WITNESS_INTRO = N_("Audit checkpoint - keep this line (it proves the log is untouched):")
#: What an unwitnessed OK cannot rule out, and how to check it (chat and CLI alike).
NOT_WITNESSED = N_(
    "Not checked against witness lines: history cut back to a checkpoint would not show. "
    "Send /audit_verify with the latest witness line from this chat, or run "
    "`medcrypt-bot audit verify --witness FILE`."
)
# The replies, in the admin's language in chat (``medcrypt-bot audit`` prints English).
# Counts are written "label: number" where a sentence would need a plural per count.
EMPTY = N_("Audit log is empty.")
HEAD = N_("Audit head: seq {seq}, hash {hash}")
NO_CHECKPOINT = N_("No signed checkpoint yet.")
LAST_CHECKPOINT_AT = N_("Last checkpoint: seq {seq} at {at}")
# The English forms are the same for one and many, as these replies always were (tests
# and operators' scripts read them); Spanish gets its two.
UNSIGNED = Nn_("({n} newer entries not yet signed)", "({n} newer entries not yet signed)")
BROKEN = N_(
    "AUDIT LOG BROKEN at seq {seq}: {reason}.\nDo not trust entries from that point; keep "
    "the database as it is and run `medcrypt-bot audit verify --witness FILE` with the "
    "chat's witness lines."
)
WITNESSED_UP_TO = N_("witnessed up to seq {seq}")
UNWITNESSED = N_("not witnessed")
VERIFIED = N_(
    "Audit log OK, {seen}: {entries} entries, head seq {head} ({hash}), {checkpoints} "
    "signed checkpoints."
)
MATCHED = N_("Witness lines matched: {matched} of {given}.")
LAST_CHECKPOINT = N_("Last checkpoint: seq {seq} at {at}.")
UNCOVERED = Nn_("{n} newest entries are not yet covered by a checkpoint.",
                "{n} newest entries are not yet covered by a checkpoint.")
RESTORED = N_(
    "Restored from a backup at {at} (signed, seq {seq}): entries written before then from "
    "seq {seq} on were lost; `audit export --from {seq} --to {seq}` names the range."
)
SET_ASIDE = Nn_(
    "{n} witness lines belong to the history a restore lost and were not checked against "
    "this chain.",
    "{n} witness lines belong to the history a restore lost and were not checked against "
    "this chain.",
)


def witness_line(checkpoint: Checkpoint) -> str:
    """The single copyable line for a checkpoint."""
    return format_witness(checkpoint)


def witness_post(checkpoint: Checkpoint, language: str = SOURCE_LANGUAGE) -> str:
    """The chat message posted for each checkpoint: one sentence, then the line."""
    return f"{translate(language, WITNESS_INTRO)}\n{format_witness(checkpoint)}"


def parse_witness_text(text: str) -> list[Witness]:
    """Witness lines from pasted chat text (an export, a forward, a notes file).

    Other lines are ignored; a line that starts like a witness but is damaged raises
    :class:`crypto.errors.MalformedToken` rather than being skipped.
    """
    return parse_witness_lines(text)


def _when(ts_us: int) -> str:
    return datetime.fromtimestamp(ts_us // 1_000_000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_head_reply(head: Head, language: str = SOURCE_LANGUAGE) -> str:
    """Reply to ``/audit_head``: where the log stands and the last witness line."""
    if head.seq == 0:
        return translate(language, EMPTY)
    lines = [translate(language, HEAD, seq=head.seq, hash=head.entry_hash.hex()[:32])]
    cp = head.last_checkpoint
    if cp is None:
        lines.append(translate(language, NO_CHECKPOINT))
    else:
        unsigned = head.seq - cp.seq
        lines.append(translate(language, LAST_CHECKPOINT_AT, seq=cp.seq, at=_when(cp.ts_us))
                     + (f" {translate_plural(language, UNSIGNED, unsigned)}" if unsigned else ""))
        lines.append(format_witness(cp))
    return "\n".join(lines)


def render_verify_reply(
    result: VerifyReport | AuditChainBroken, *, witnesses_given: int = 0,
    language: str = SOURCE_LANGUAGE,
) -> str:
    """Reply to ``/audit_verify``: OK with counts, or the first bad seq and why.

    An OK says first whether witness lines were part of the check: without them a log
    cut back exactly to a genuine checkpoint still verifies, so "not witnessed" is the
    honest verdict, with how to get the stronger one. The reason of a broken chain is
    the verifier's own (English) words.
    """
    def say(msgid: str, **params: object) -> str:
        return translate(language, msgid, **params)

    if isinstance(result, AuditChainBroken):
        return say(BROKEN, seq=result.seq, reason=result.reason)
    seen = (say(WITNESSED_UP_TO, seq=result.witnessed_seq) if result.witnessed_seq
            else say(UNWITNESSED))
    lines = [say(VERIFIED, seen=seen, entries=result.entries, head=result.head_seq,
                 hash=result.head_hash.hex()[:16], checkpoints=result.checkpoints)]
    if witnesses_given or result.witnesses:
        lines.append(say(MATCHED, matched=result.witnesses, given=witnesses_given))
    else:
        lines.append(say(NOT_WITNESSED))
    if result.last_checkpoint_seq:
        lines.append(say(LAST_CHECKPOINT, seq=result.last_checkpoint_seq,
                         at=_when(result.last_checkpoint_ts_us)))
    if result.unsigned_tail:
        lines.append(translate_plural(language, UNCOVERED, result.unsigned_tail))
    lines.extend(say(RESTORED, at=_when(mark.ts_us), seq=mark.seq) for mark in result.restores)
    if result.witnesses_set_aside:
        lines.append(translate_plural(language, SET_ASIDE, result.witnesses_set_aside))
    return "\n".join(lines)


def render_verify_progress(done: int) -> str:
    """A status line for long verifications (edited in place by the chat layer)."""
    return f"Verifying the audit log... {done:,} entries checked"
