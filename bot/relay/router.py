"""Route one inbound message: commands, tokens, files, and the plaintext guard.

The relay reads token *headers* only (``crypto.wire`` is keyless). For a MESSAGE it
checks, in order: the pairing exists, the sender is the member the direction says
(physician → patient or patient → physician), the pairing is active, and the epoch is
neither in the future nor past its grace window. Anything else is not relayed and the
sender gets one short reason. A paired user's text that carries no token is never
relayed, stored or logged (the guard), and the adapter deletes the message where its
platform allows a bot to.
"""

from __future__ import annotations

import base64

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.dispatch import dispatch
from medcrypt.bot.domain import notices, pairings
from medcrypt.bot.domain.lifecycle.policy import classify
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.crypto.errors import LimitExceeded, MalformedToken
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.parts import MAX_PARTS, join_chunks
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    Token,
    find_tokens,
    parse_file_header,
    parse_token,
)
from medcrypt.storage.repos import epochs, escrow, tokens
from medcrypt.storage.repos import pairings as pairing_rows
from medcrypt.storage.repos.pairings import Route
from medcrypt.storage.repos.tokens import PartConflict

#: Most tokens taken from one chat message (a paste of a whole conversation is refused).
MAX_TOKENS_PER_MESSAGE = 64
#: Most partly received tokens one sender may have outstanding.
MAX_PENDING_GROUPS_PER_SENDER = 32
_TOKEN_PREFIX = "[MEDCRYPT:"  # noqa: S105 - the wire prefix, not a credential


def handle(ctx: Context) -> None:
    """Process one accepted message (the caller owns the transaction)."""
    msg = ctx.message
    if msg.document is not None:
        _handle_file(ctx)
        return
    text = (msg.text or "").strip()
    if text.startswith("/"):
        dispatch(ctx, text)
        return
    tokens = find_tokens(text)
    if not tokens:
        _guard_plaintext(ctx, text)
        return
    if len(tokens) > MAX_TOKENS_PER_MESSAGE:
        ctx.reply(notices.MALFORMED)
        return
    for token_text in tokens:
        _handle_token_text(ctx, token_text)


def _guard_plaintext(ctx: Context, text: str) -> None:
    if "[MEDCRYPT:V1:" in text.upper():
        ctx.reply(notices.V1_REFUSED)
        return
    if _TOKEN_PREFIX in text.upper():
        ctx.reply(notices.MALFORMED)
        return
    if pairings.pairings_of(ctx, ctx.sender_id):
        ctx.delete_message = True
        ctx.audit("plaintext_blocked", platform=ctx.message.platform.value)
        ctx.reply(notices.PLAINTEXT_BLOCKED)
    else:
        ctx.reply(notices.UNPAIRED_TEXT)


def _parse(ctx: Context, token_text: str) -> Token | None:
    try:
        return parse_token(token_text)
    except MalformedToken:
        ctx.reply(notices.UNKNOWN_KIND if _unknown_kind(token_text) else notices.MALFORMED)
        return None


def _unknown_kind(token_text: str) -> bool:
    """Tell "unknown kind" from garbage, for a more useful reply."""
    payload = token_text.strip()[len("[MEDCRYPT:v2:"):-1]
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), validate=True)
    except ValueError:
        return False
    return len(raw) >= 2 and raw[0] == 2 and raw[1] not in {k.value for k in Kind}


def _handle_token_text(ctx: Context, token_text: str) -> None:
    token = _parse(ctx, token_text)
    if token is None:
        return
    if token.header.kind is Kind.PART:
        whole = _collect_part(ctx, token, token_text)
        if whole is None:
            return
        token_text = whole
        token = parse_token(whole)
    kind = token.header.kind
    if kind is Kind.MESSAGE:
        _relay_message(ctx, token, token_text)
    elif kind is Kind.PAIR_REGISTER:
        pairings.register(ctx, token)
    elif kind is Kind.PAIR_ACCEPT:
        pairings.accept(ctx, token, token_text)
    elif kind is Kind.ESCROW_DEPOSIT:
        _store_escrow(ctx, token)
    else:  # pragma: no cover - parse_token only yields known kinds
        ctx.reply(notices.UNKNOWN_KIND)


def _collect_part(ctx: Context, token: Token, token_text: str) -> str | None:
    """Persist a PART; when the sender has sent every part, join and return the token."""
    part = token.part
    if part is None:
        ctx.reply(notices.MALFORMED)
        return None
    if part.count > MAX_PARTS:
        ctx.reply(notices.MALFORMED)
        return None
    try:
        # The raw chunk, not the text: part 0 starts with the whole token's header, which
        # is how the shred job finds the parts of an epoch without a key
        # (bot.domain.lifecycle.purge).
        chunks = tokens.collect_part(
            ctx.session, sender_id=ctx.sender_id, group_id=part.group_id.hex(),
            part_index=part.index, part_count=part.count, chunk=part.chunk,
            now=ctx.services.clock.now(), max_pending_groups=MAX_PENDING_GROUPS_PER_SENDER)
    except PartConflict:
        ctx.audit("relay_refused", reason="part_conflict")
        ctx.reply(notices.PART_CONFLICT)
        return None
    except (MalformedToken, LimitExceeded):
        ctx.reply(notices.MALFORMED)
        return None
    if chunks is None:
        return None  # more parts to come, or an identical repeated part
    try:
        return join_chunks(chunks)
    except (MalformedToken, LimitExceeded):
        ctx.reply(notices.MALFORMED)
        return None


def _get_route(ctx: Context, pairing_id: bytes | None, epoch: int | None) -> Route | None:
    """The pairing and the state of its epoch row, in one Core query (every message)."""
    if pairing_id is None:
        return None
    return pairing_rows.route(ctx.session, pairing_id.hex(), -1 if epoch is None else epoch)


def _check_route(
    ctx: Context, pairing_id: bytes | None, epoch: int | None, direction: Direction | None,
) -> Route | None:
    """The header checks shared by messages and files; replies and returns None on refusal."""
    pairing = _get_route(ctx, pairing_id, epoch)
    if pairing is None:
        ctx.reply(notices.UNKNOWN_PAIRING)
        return None
    role = pairings.role_of(pairing, ctx.sender_id)
    expected = {"physician": Direction.PHYSICIAN_TO_PATIENT,
                "patient": Direction.PATIENT_TO_PHYSICIAN}.get(role or "")
    if expected is None or direction is not expected:
        ctx.audit("wrong_sender", pairing=pairing.pairing_id)
        ctx.reply(notices.WRONG_SENDER)
        return None
    if pairing.status != "active" or pairing.patient_id is None:
        ctx.reply(notices.PAIRING_INACTIVE)
        return None
    if not _epoch_ok(ctx, pairing, epoch):
        return None
    return pairing


def _epoch_ok(ctx: Context, pairing: Route, epoch: int | None) -> bool:
    """The bot's half of the key policy (:func:`bot.domain.lifecycle.policy.epoch_status`).

    The calendar refuses an epoch past its grace end even before the sweep ran; the
    job's records add an epoch shredded early by ``/shred`` or ``/delete_me``, so the
    current month of a pairing shredded on demand is refused too.
    """
    now = ctx.services.clock.now()
    status = "future" if epoch is None else classify(pairing, epoch, pairing.epoch_state, now)
    if status == "future":
        ctx.reply(notices.EPOCH_FUTURE)
        return False
    if status in ("shredded", "unknown"):
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason=f"epoch_{status}")
        ctx.reply(notices.EPOCH_SHREDDED if status == "unknown" or epoch is None
                  else notices.EPOCH_GONE.format(month=format_epoch(epoch)))
        return False
    return True


def _ensure_epoch(ctx: Context, pairing_id: str, epoch: int, known: bool) -> None:
    """The epoch row the stored rows hang on (created by the first token of a month).

    Rotation normally creates it at midnight on the 1st; a token can arrive first (also
    a few minutes before midnight, from a sender whose clock runs ahead: that month is
    the one starting, so ``active``). A past month inside its grace window is created
    ``retired`` so the sweep still shreds it on time. Two replicas may race to create
    it: insert-if-absent, one of them does.
    """
    if known:
        return
    now = ctx.services.clock.now()
    epochs.ensure_epoch(ctx.session, pairing_id, epoch, now=now, retired=epoch < epoch_of(now))


def _other(pairing: Route, sender_id: str) -> str:
    if pairing.physician_id == sender_id:
        return pairing.patient_id or ""
    return pairing.physician_id


def _relay_message(ctx: Context, token: Token, token_text: str) -> None:
    h = token.header
    pairing = _check_route(ctx, h.pairing_id, h.epoch, h.direction)
    if pairing is None or h.epoch is None:
        return
    assert h.direction is not None and h.index is not None  # MESSAGE headers carry both
    _ensure_epoch(ctx, pairing.pairing_id, h.epoch, pairing.epoch_state is not None)
    tokens.store_relayed(
        ctx.session, pairing_id=pairing.pairing_id, epoch=h.epoch, direction=int(h.direction),
        msg_index=h.index, kind=int(Kind.MESSAGE), raw=token.raw,
        now=ctx.services.clock.now())
    ctx.relay_token(_other(pairing, ctx.sender_id), token_text, pairing.pairing_id)


def _store_escrow(ctx: Context, token: Token) -> None:
    h = token.header
    pairing = _get_route(ctx, h.pairing_id, h.epoch)
    if pairing is None or pairings.role_of(pairing, ctx.sender_id) is None:
        ctx.reply(notices.UNKNOWN_PAIRING)
        return
    if not _epoch_ok(ctx, pairing, h.epoch) or h.epoch is None or h.direction is None:
        return
    # Insert-if-absent: a repeated deposit for the month and direction changes nothing.
    if escrow.store_deposit(ctx.session, pairing_id=pairing.pairing_id, epoch=h.epoch,
                            direction=int(h.direction), raw=token.raw,
                            now=ctx.services.clock.now()):
        _ensure_epoch(ctx, pairing.pairing_id, h.epoch, pairing.epoch_state is not None)
        ctx.audit("escrow_deposit", pairing=pairing.pairing_id)
    ctx.reply(notices.ESCROW_STORED)


def _handle_file(ctx: Context) -> None:
    doc = ctx.message.document
    assert doc is not None
    limit = ctx.services.settings.relay.max_file_bytes
    if doc.size > limit:
        ctx.reply(notices.TOO_LARGE.format(limit_mb=max(1, limit // (1024 * 1024))))
        return
    try:
        header = parse_file_header(doc.data)
    except MalformedToken:
        if pairings.pairings_of(ctx, ctx.sender_id):
            ctx.delete_message = True
            ctx.audit("plaintext_blocked", platform=ctx.message.platform.value, what="file")
        ctx.reply(notices.NOT_ENCRYPTED_FILE)
        return
    pairing = _check_route(ctx, header.pairing_id, header.epoch, header.direction)
    if pairing is None:
        return
    _ensure_epoch(ctx, pairing.pairing_id, header.epoch, pairing.epoch_state is not None)
    out = OutboundMessage(recipient_id=_other(pairing, ctx.sender_id), kind=OutKind.FILE,
                          document=doc, origin_id=ctx.sender_id,
                          pairing_id=pairing.pairing_id)
    ctx.relay_file(out.recipient_id, out)
