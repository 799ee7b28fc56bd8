"""Route one inbound message: commands, tokens, files, and the plaintext guard.

The relay reads token *headers* only (``crypto.wire`` is keyless). For a MESSAGE it
checks, in order: the pairing exists, the sender is the member the direction says
(physician → patient or patient → physician), the pairing is active, and the epoch is
neither shredded nor ahead of the month that ``now`` plus the companions' clock
tolerance falls in (PROTOCOL §6). Anything else is not relayed and the sender gets one
short reason. A pairing carries MESSAGE tokens of its own protocol version only (v3
pairings no v2, v2 pairings no v3 and no v2 past ``relay.v2_cutoff_date``); a v3
MESSAGE's escrow deposit is stripped, kept and never relayed (docs/adr/0026). What a
message carries besides commands and well-formed tokens is the
plaintext guard's: its rules are listed in :mod:`bot.relay.guard`.
"""

from __future__ import annotations

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.dispatch import dispatch
from medcrypt.bot.commands.registry import lookup
from medcrypt.bot.domain import admission, notices, pairings, upgrade
from medcrypt.bot.domain.breakglass import deposits
from medcrypt.bot.domain.i18n import translate
from medcrypt.bot.domain.lifecycle.policy import classify
from medcrypt.bot.domain.messages import OutboundMessage, OutKind
from medcrypt.bot.relay import fragments, guarding
from medcrypt.bot.relay.guard import Leftover, PieceKind, is_command, read
from medcrypt.crypto.errors import LimitExceeded, MalformedToken
from medcrypt.crypto.keyless import record_wire, v3wire
from medcrypt.crypto.keyless.epochs import epoch_of, format_epoch
from medcrypt.crypto.keyless.pairing_wire import VERSION_3
from medcrypt.crypto.keyless.parts import MAX_PARTS, join_chunks
from medcrypt.crypto.keyless.upgrade_wire import UpgradeOffer
from medcrypt.crypto.keyless.wire import (
    Direction,
    Kind,
    Token,
    parse_file_header,
    parse_token,
)
from medcrypt.storage.repos import epochs, escrow, tokens, v3escrow
from medcrypt.storage.repos import pairings as pairing_rows
from medcrypt.storage.repos.pairings import Route
from medcrypt.storage.repos.tokens import PartConflict
from medcrypt.storage.repos.v3escrow import Stored

#: Most partly received tokens one sender may have outstanding.
MAX_PENDING_GROUPS_PER_SENDER = 32


def handle(ctx: Context) -> None:
    """Process one accepted message (the caller owns the transaction)."""
    msg = ctx.message
    text = (msg.text or "").strip()
    if msg.document is None and msg.media is None and \
            is_command(text, lambda name: lookup(name) is not None):
        dispatch(ctx, text)
        return
    reading = read(text)
    leftover = reading.leftover
    if reading.piece is not None:
        # Only a text message of a paired sender can be a piece of a paste: a caption
        # is not split by a client, and a stranger's pieces are not kept.
        if msg.document is None and msg.media is None and guarding.paired(ctx):
            leftover = Leftover.NONE
            rejoined = fragments.take(ctx, reading.piece)
            if rejoined is not None:
                _handle_token(ctx, *rejoined)
        else:
            leftover = (Leftover.MALFORMED if reading.piece.kind is PieceKind.HEAD
                        else Leftover.TEXT)
    relayed_before = len(ctx.relayed)
    carried = msg.document is not None and _handle_file(ctx)
    if carried and reading.tokens and "file" not in ctx.relayed[relayed_before:]:
        # An encrypted file that was refused (too large, closed pairing...; the reply
        # says why): the token beside it is its manifest, useless alone - it stays back
        # too, and the sender is told in the same reply.
        if ctx.replies:
            ctx.replies[-1] = f"{ctx.replies[-1]} {translate(ctx.lang, notices.CAPTION_NOT_SENT)}"
        guarding.settle(ctx, leftover, carried=True)
        return
    for token_text, token in reading.tokens:
        _handle_token(ctx, token_text, token)
    guarding.settle(ctx, leftover, carried=carried or bool(reading.tokens))


def _handle_token(ctx: Context, token_text: str, token: Token) -> None:
    if token.header.kind is Kind.PART:
        whole = _collect_part(ctx, token, token_text)
        if whole is None:
            return
        token_text = whole
        token = parse_token(whole)
    kind = token.header.kind
    if token.header.version == VERSION_3:
        _handle_v3(ctx, token, token_text)
    elif kind is Kind.MESSAGE:
        _relay_message(ctx, token, token_text)
    elif kind is Kind.PAIR_REGISTER:
        pairings.register(ctx, token)
    elif kind is Kind.PAIR_ACCEPT:
        pairings.accept(ctx, token, token_text)
    elif kind is Kind.ESCROW_DEPOSIT:
        _store_escrow(ctx, token)
    else:  # pragma: no cover - parse_token only yields known kinds
        ctx.say(notices.UNKNOWN_KIND)


def _handle_v3(ctx: Context, token: Token, token_text: str) -> None:
    """v3 MESSAGE tokens, the v3 pairing, upgrade and pinned-record tokens."""
    kind = token.header.kind
    if kind is Kind.MESSAGE:
        _relay_v3_message(ctx, token_text)
    elif kind is Kind.PAIR_REGISTER:
        pairings.register(ctx, token)
    elif kind is Kind.PAIR_ACCEPT:
        admission.accept(ctx, token, token_text)
    elif kind is Kind.KEY_CONFIRM:
        admission.confirm(ctx, token, token_text)
    elif kind is Kind.UPGRADE and isinstance(token.upgrade, UpgradeOffer):
        upgrade.offer(ctx, token, token_text)
    elif kind is Kind.UPGRADE:
        upgrade.answer(ctx, token, token_text)
    elif kind is Kind.PIN_RECORD:
        _store_record(ctx, token)
    else:  # pragma: no cover - parse_token yields only the kinds above for v3
        ctx.say(notices.UNKNOWN_KIND)


def _collect_part(ctx: Context, token: Token, token_text: str) -> str | None:
    """Persist a PART; when the sender has sent every part, join and return the token."""
    part = token.part
    if part is None or part.count > MAX_PARTS:
        ctx.refused("malformed")
        ctx.say(notices.MALFORMED)
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
        ctx.refused("part_conflict")
        ctx.say(notices.PART_CONFLICT)
        return None
    except (MalformedToken, LimitExceeded):
        ctx.refused("malformed")
        ctx.say(notices.MALFORMED)
        return None
    if chunks is None:
        return None  # more parts to come, or an identical repeated part
    try:
        return join_chunks(chunks)
    except (MalformedToken, LimitExceeded):
        ctx.refused("malformed")
        ctx.say(notices.MALFORMED)
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
        ctx.refused("unknown_pairing")
        ctx.say(notices.UNKNOWN_PAIRING)
        return None
    role = pairings.role_of(pairing, ctx.sender_id)
    expected = {"physician": Direction.PHYSICIAN_TO_PATIENT,
                "patient": Direction.PATIENT_TO_PHYSICIAN}.get(role or "")
    if expected is None or direction is not expected:
        ctx.audit("wrong_sender", pairing=pairing.pairing_id)
        ctx.refused("wrong_sender")
        ctx.say(notices.WRONG_SENDER)
        return None
    if _refused(ctx, pairings.closed_to_tokens(pairing), pairing.pairing_id):
        return None
    if not _epoch_ok(ctx, pairing, epoch):
        return None
    return pairing


def _refused(ctx: Context, refusal: pairings.Refusal | None, pairing_id: str) -> bool:
    """Reply (and audit, when it has a reason) a refusal; False when there is none."""
    if refusal is None:
        return False
    if refusal.reason is not None:
        ctx.audit("relay_refused", pairing=pairing_id, reason=refusal.reason)
    ctx.refused("pairing_closed")
    ctx.say(refusal.text)
    return True


def _epoch_ok(ctx: Context, pairing: Route, epoch: int | None) -> bool:
    """The bot's half of the key policy (:func:`bot.domain.lifecycle.policy.epoch_status`).

    The calendar refuses an epoch past its grace end even before the sweep ran; the
    job's records add an epoch shredded early by ``/shred`` or ``/delete_me``, so the
    current month of a pairing shredded on demand is refused too.
    """
    now = ctx.services.clock.now()
    status = "future" if epoch is None else classify(pairing, epoch, pairing.epoch_state, now)
    if status == "future":
        ctx.refused("epoch_future")
        ctx.say(notices.EPOCH_FUTURE)
        return False
    if status in ("shredded", "unknown"):
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason=f"epoch_{status}")
        ctx.refused("epoch_shredded")
        if status == "unknown" or epoch is None:
            ctx.say(notices.EPOCH_SHREDDED)
        else:
            ctx.say(notices.EPOCH_GONE, month=format_epoch(epoch))
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


def _v2_refusal(ctx: Context, pairing: Route, epoch: int) -> bool:
    """Refuse (and say why) a v2 MESSAGE or deposit the pairing may not carry.

    A v3 pairing never carries v2: its companions hold no v2 key, so a v2 token in it is
    an old or a forged companion's. A v2 pairing carries v2 only for months that start
    before ``relay.v2_cutoff_date`` (ADR 0026).
    """
    if pairing.version == VERSION_3:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="v2_on_v3")
        ctx.refused("version_mismatch")
        ctx.say(notices.V2_ON_V3)
        return True
    cutoff = ctx.services.settings.relay.v2_refused_from_epoch
    if epoch >= cutoff:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="v2_retired")
        ctx.refused("v2_retired")
        ctx.say(notices.V2_RETIRED, month=format_epoch(cutoff))
        return True
    return False


def _relay_message(ctx: Context, token: Token, token_text: str) -> None:
    h = token.header
    pairing = _check_route(ctx, h.pairing_id, h.epoch, h.direction)
    if pairing is None or h.epoch is None or _v2_refusal(ctx, pairing, h.epoch):
        return
    assert h.direction is not None and h.index is not None  # MESSAGE headers carry both
    _ensure_epoch(ctx, pairing.pairing_id, h.epoch, pairing.epoch_state is not None)
    tokens.store_relayed(
        ctx.session, pairing_id=pairing.pairing_id, epoch=h.epoch, direction=int(h.direction),
        msg_index=h.index, kind=int(Kind.MESSAGE), raw=token.raw,
        now=ctx.services.clock.now())
    ctx.relay_token(_other(pairing, ctx.sender_id), token_text, pairing.pairing_id)


def _relay_v3_message(ctx: Context, token_text: str) -> None:
    """Route a v3 MESSAGE with the checks a v2 one gets, keep its deposit, relay it bare.

    The deposit section is outside the AEAD and the signature (PROTOCOL §21.1), so the
    peer opens the stripped token as it would the original; the deposit itself is kept
    for break-glass and never relayed (§24.2). Its slot is the token's direction, which
    :func:`_check_route` has already tied to the sender's role: a member can deposit
    only in their own slot.
    """
    try:
        message = v3wire.parse_message_text(token_text)
    except MalformedToken:  # pragma: no cover - parse_token accepted these bytes already
        ctx.refused("malformed")
        ctx.say(notices.MALFORMED)
        return
    view, deposit = v3wire.relay_view(message), message.deposit
    pairing = _check_route(ctx, view.pairing_id, view.epoch, view.direction)
    if pairing is None:
        return
    if pairing.version != VERSION_3:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="v3_on_v2")
        ctx.refused("version_mismatch")
        ctx.say(notices.V3_ON_V2)
        return
    now = ctx.services.clock.now()
    _ensure_epoch(ctx, pairing.pairing_id, view.epoch, pairing.epoch_state is not None)
    if deposit is not None:
        stored = v3escrow.store_deposit(
            ctx.session, pairing_id=pairing.pairing_id, epoch=view.epoch,
            direction=int(view.direction), chain_id=view.chain_id, raw=deposit, now=now)
        if stored is Stored.ADDED:
            ctx.audit("escrow_deposit", pairing=pairing.pairing_id)
        elif stored is Stored.FULL:
            ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="deposit_slot_full")
    bare = message.raw_without_deposit  # what strip_deposit relays
    tokens.store_relayed(
        ctx.session, pairing_id=pairing.pairing_id, epoch=view.epoch,
        direction=int(view.direction), msg_index=message.header.index,
        kind=int(Kind.MESSAGE), raw=bare, now=now)
    ctx.relay_token(_other(pairing, ctx.sender_id), v3wire.encode_text(bare),
                    pairing.pairing_id)


def _store_record(ctx: Context, token: Token) -> None:
    """Keep the sealed pinned-key record of an active v3 pairing, from its physician only.

    The bot cannot open or check it; break-glass verifies it against the key the clinic
    enrolled. Only the physician's account may file it (the patient or a stranger could
    otherwise crowd the pairing's few places with junk), and a kept one is never
    replaced (PROTOCOL §34.3).
    """
    info = record_wire.parse_record_token(token.raw)
    pairing = _get_route(ctx, info.pairing_id, None)
    if pairing is None or pairings.role_of(pairing, ctx.sender_id) is None:
        ctx.refused("unknown_pairing")
        ctx.say(notices.UNKNOWN_PAIRING)
        return
    if pairings.role_of(pairing, ctx.sender_id) != "physician":
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="record_not_physician")
        ctx.refused("record_refused")
        ctx.say(notices.RECORD_NOT_PHYSICIAN)
        return
    if _refused(ctx, pairings.closed_to_tokens(pairing), pairing.pairing_id):
        return
    if pairing.version != VERSION_3:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="v3_on_v2")
        ctx.refused("version_mismatch")
        ctx.say(notices.V3_ON_V2)
        return
    stored = v3escrow.store_record(ctx.session, pairing_id=pairing.pairing_id,
                                   raw=info.sealed, now=ctx.services.clock.now())
    if stored is Stored.FULL:
        ctx.audit("relay_refused", pairing=pairing.pairing_id, reason="record_full")
        ctx.refused("record_refused")
        ctx.say(notices.RECORD_FULL)
        return
    if stored is Stored.ADDED:
        ctx.audit("pinned_record", pairing=pairing.pairing_id)
    ctx.say(notices.RECORD_STORED)


def _store_escrow(ctx: Context, token: Token) -> None:
    h = token.header
    pairing = _get_route(ctx, h.pairing_id, h.epoch)
    if pairing is None or pairings.role_of(pairing, ctx.sender_id) is None:
        ctx.refused("unknown_pairing")
        ctx.say(notices.UNKNOWN_PAIRING)
        return
    # Only an open pairing takes deposits, and only in the sender's own slot.
    if _refused(ctx, pairings.closed_to_tokens(pairing)
                or deposits.slot_refusal(pairing, ctx.sender_id, h.direction),
                pairing.pairing_id):
        return
    if not _epoch_ok(ctx, pairing, h.epoch) or h.epoch is None or h.direction is None:
        return
    if _v2_refusal(ctx, pairing, h.epoch):
        return
    # Insert-if-absent: a repeated deposit for the month and direction changes nothing.
    if escrow.store_deposit(ctx.session, pairing_id=pairing.pairing_id, epoch=h.epoch,
                            direction=int(h.direction), raw=token.raw,
                            now=ctx.services.clock.now()):
        _ensure_epoch(ctx, pairing.pairing_id, h.epoch, pairing.epoch_state is not None)
        ctx.audit("escrow_deposit", pairing=pairing.pairing_id)
    ctx.say(notices.ESCROW_STORED)


def megabytes(limit: int) -> int:
    """A byte limit as the MB figure users are told: binary megabytes where the limit
    is a whole number of them (Telegram's 20 and 50), decimal otherwise (16 000 000)."""
    mib = 1024 * 1024
    return max(1, limit // mib if limit % mib == 0 else round(limit / 1_000_000))


def _handle_file(ctx: Context) -> bool:
    """Relay an encrypted file, or say why not; False when it was no encrypted file."""
    doc = ctx.message.document
    assert doc is not None
    if doc.size > ctx.channel.max_file_in:
        ctx.refused("too_large")
        ctx.say(notices.TOO_LARGE_FROM, limit_mb=megabytes(ctx.channel.max_file_in),
                                                platform=ctx.channel.display_name)
        return True
    try:
        header = parse_file_header(doc.data)
    except MalformedToken:
        if guarding.paired(ctx):
            guarding.block(ctx, "file", notices.NOT_ENCRYPTED_FILE)
        else:
            ctx.refused("not_paired")
            ctx.say(notices.NOT_ENCRYPTED_FILE)
        return False
    pairing = _check_route(ctx, header.pairing_id, header.epoch, header.direction)
    if pairing is None:
        return True
    recipient = _other(pairing, ctx.sender_id)
    platform = ctx.services.directory.platform_of(ctx.session, recipient)
    channel = ctx.services.channels[platform] if platform is not None else None
    if channel is not None and doc.size > channel.max_file_out:
        # Refused now, naming the limit, rather than failing at the platform later with
        # a "could not be delivered" that does not say why.
        ctx.refused("too_large")
        ctx.say(notices.TOO_LARGE_TO, limit_mb=megabytes(channel.max_file_out),
                                              platform=channel.display_name)
        return True
    _ensure_epoch(ctx, pairing.pairing_id, header.epoch, pairing.epoch_state is not None)
    out = OutboundMessage(recipient_id=recipient, kind=OutKind.FILE,
                          document=doc, origin_id=ctx.sender_id,
                          pairing_id=pairing.pairing_id)
    ctx.relay_file(out.recipient_id, out)
    return True
