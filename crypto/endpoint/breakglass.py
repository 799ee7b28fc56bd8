"""Break-glass bundles: parse, recover the escrow key from SLIP-39 shares, open (DESIGN 3.4).

This is *opening* code. Only the offline opener (``medcrypt.opener``, the
``medcrypt-breakglass`` program) may import it; the running bot builds bundles with the
keyless encoder in ``bot.domain.breakglass.bundle``, which seals to the escrow PUBLIC key
(:func:`crypto.keyless.sealing.seal_to_public_key`) and never sees a private key. The
clear header is keyless and shared with that encoder (``crypto.keyless.bundle_wire``).

Bundle layout (all integers big-endian)::

    outer  = header || SealedBox(escrow_pk, inner)
    header = "MCBG" | version u8 (=1) | request code 10 ASCII bytes | escrow_pk 32 B   (47 B)
    inner  = header                               (must equal the outer one, constant time)
           | manifest length u32 | manifest (UTF-8 JSON object)
           | item count u32 | item count x (length u32 | raw binary token)
           | SHA-256 of every preceding byte of ``inner``

Items are the raw binary forms of ESCROW_DEPOSIT and MESSAGE tokens (docs/PROTOCOL.md
3.1, 7). A sealed box has no associated data, so the header is repeated inside: a bundle
whose clear header was edited (another request code, another key) is refused. Any flipped
byte of the ciphertext fails the box's Poly1305 tag (one opaque ``DecryptionFailed``).

Why the escrow key is checked before opening: SLIP-39 with a wrong passphrase silently
yields a *different* secret. Comparing its X25519 public key with the bundle's tells
"wrong shares or passphrase" apart from "damaged bundle" without trying to decrypt.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import shamir_mnemonic
import shamir_mnemonic.share
from shamir_mnemonic.utils import MnemonicError

from medcrypt.crypto import _primitives as prim
from medcrypt.crypto.endpoint import envelope
from medcrypt.crypto.endpoint.envelope import ContentType
from medcrypt.crypto.endpoint.escrow import EpochKey, RecoveredMessage, open_deposit
from medcrypt.crypto.endpoint.ratchet import MAX_SKIP, chain_step, initial_chain_key
from medcrypt.crypto.errors import (
    BadToken,
    DecryptionFailed,
    LimitExceeded,
    MalformedToken,
    PolicyViolation,
)
from medcrypt.crypto.keyless.bundle_wire import (
    FORMAT,
    HEADER_LEN,
    BundleHeader,
    parse_header,
)
from medcrypt.crypto.keyless.epochs import format_epoch
from medcrypt.crypto.keyless.wire import Direction, Kind, encode_token, parse_raw

DIGEST_LEN = 32
#: Parser limits: a month of a busy pairing is far below these.
MAX_MANIFEST_BYTES = 64 * 1024
MAX_ITEMS = 1_000_000
_U32 = struct.Struct(">I")
#: Index steps one relayed token may advance a chain: a companion refuses a token that
#: skips more than ``MAX_SKIP`` keys (docs/PROTOCOL.md 13).
SKIP_PER_TOKEN = MAX_SKIP + 1


@dataclass(frozen=True, slots=True)
class BundleContents:
    """The opened-but-not-decrypted inside: manifest and raw token items."""

    header: BundleHeader
    manifest: dict[str, Any]
    items: list[bytes]


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    epoch: int
    direction: Direction
    index: int
    content_type: ContentType
    sent_at_iso: str
    body: bytes


@dataclass(frozen=True, slots=True)
class OpenedBundle:
    """Everything a quorum recovers from one bundle.

    ``unrecoverable`` counts messages per epoch for which the bundle holds no deposit
    (nothing in the bundle opens them). ``skipped`` has one line per item the opener left
    out and why - a deposit it cannot use, messages no deposit opens - naming months and
    slots only.
    """

    header: BundleHeader
    manifest: dict[str, Any]
    messages: list[OpenedMessage]
    unrecoverable: dict[int, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------- parsing


def _take(data: bytes, pos: int, n: int) -> tuple[bytes, int]:
    if n < 0 or pos + n > len(data):
        raise MalformedToken("break-glass bundle is truncated")
    return data[pos:pos + n], pos + n


def parse_inner(header: BundleHeader, header_bytes: bytes, inner: bytes) -> BundleContents:
    """Check the inner copy of the header and the digest; split manifest and items."""
    if len(inner) < HEADER_LEN + 8 + DIGEST_LEN:
        raise MalformedToken("break-glass bundle is truncated")
    body, digest = inner[:-DIGEST_LEN], inner[-DIGEST_LEN:]
    if not prim.constant_time_equal(hashlib.sha256(body).digest(), digest):
        raise MalformedToken("break-glass bundle digest does not match its contents")
    if not prim.constant_time_equal(body[:HEADER_LEN], header_bytes):
        raise MalformedToken("break-glass bundle header was altered")
    pos = HEADER_LEN
    raw_len, pos = _take(body, pos, 4)
    (manifest_len,) = _U32.unpack(raw_len)
    if manifest_len > MAX_MANIFEST_BYTES:
        raise MalformedToken("break-glass manifest exceeds the size limit")
    raw_manifest, pos = _take(body, pos, manifest_len)
    try:
        manifest = json.loads(raw_manifest.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedToken("break-glass manifest is not UTF-8 JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise MalformedToken("break-glass manifest has an unknown format")
    raw_count, pos = _take(body, pos, 4)
    (count,) = _U32.unpack(raw_count)
    if count > MAX_ITEMS:
        raise MalformedToken("break-glass bundle holds too many items")
    items: list[bytes] = []
    for _ in range(count):
        raw_len, pos = _take(body, pos, 4)
        item, pos = _take(body, pos, _U32.unpack(raw_len)[0])
        items.append(item)
    if pos != len(body):
        raise MalformedToken("break-glass bundle has trailing bytes")
    if manifest.get("request") != header.code or manifest.get("items") != count:
        raise MalformedToken("break-glass manifest does not match the bundle")
    return BundleContents(header, manifest, items)


def unseal(escrow_private: bytes | bytearray, data: bytes) -> BundleContents:
    """Check the key against the header, open the sealed box, parse the inside."""
    header = parse_header(data)
    if not prim.constant_time_equal(prim.x25519_public(escrow_private), header.escrow_public):
        raise DecryptionFailed("the shares and passphrase do not recover the escrow key "
                               "this bundle is sealed to")
    inner = prim.sealed_box_open(escrow_private, data[HEADER_LEN:])
    return parse_inner(header, data[:HEADER_LEN], inner)


# ------------------------------------------------------------------------- shares


def recover_secret(mnemonics: Sequence[str], passphrase: bytes = b"") -> bytearray:
    """SLIP-39: combine the mnemonics into the master secret (the project's one code path).

    Errors name what is wrong with the *set* (too few shares, shares of different
    splits, a mistyped word) and never any share content or secret. The result is a
    ``bytearray`` the caller wipes; the library's intermediate ``bytes`` cannot be wiped
    (defence in depth only, docs/PROTOCOL.md 12).
    """
    cleaned = [" ".join(m.lower().split()) for m in mnemonics]
    if not cleaned or any(not m for m in cleaned):
        raise MalformedToken("no share given")
    if len(set(cleaned)) != len(cleaned):
        raise PolicyViolation("the same share was given twice")
    for number, words in enumerate(cleaned, start=1):
        try:
            shamir_mnemonic.share.Share.from_mnemonic(words)
        except MnemonicError as exc:
            raise MalformedToken(
                f"share {number} is not a valid SLIP-39 mnemonic: {_clean(exc)}") from None
    try:
        ems = shamir_mnemonic.recover_ems(shamir_mnemonic.decode_mnemonics(cleaned))
    except MnemonicError as exc:
        raise PolicyViolation(f"the shares do not combine: {_clean(exc)}") from None
    try:
        return bytearray(ems.decrypt(passphrase))
    except ValueError:
        raise PolicyViolation("the passphrase must be printable ASCII") from None


def _clean(exc: MnemonicError) -> str:
    """The library's message without any quoted share words (they are secret)."""
    text = str(exc)
    if '"' in text:
        text = text.split('"', 1)[0].rstrip(" ,") + " (words omitted)"
    return text


def shares_needed(mnemonic: str) -> int:
    """How many shares (of this share's split) a quorum needs; for prompting one by one."""
    try:
        share = shamir_mnemonic.share.Share.from_mnemonic(" ".join(mnemonic.lower().split()))
    except MnemonicError as exc:
        raise MalformedToken(f"a share is not a valid SLIP-39 mnemonic: {_clean(exc)}") from None
    if share.group_count != 1:
        raise PolicyViolation("multi-group SLIP-39 shares are not used by MedCrypt escrow")
    return int(share.member_threshold)


def recover_escrow_key(mnemonics: Sequence[str], passphrase: bytes = b"") -> bytearray:
    """The 32-byte escrow X25519 private key from a quorum of shares."""
    secret = recover_secret(mnemonics, passphrase)
    if len(secret) != 32:
        prim.wipe(secret)
        raise PolicyViolation("the shares hold a secret that is not an escrow key")
    return secret


# ------------------------------------------------------------------------- opening


@dataclass(frozen=True, slots=True)
class _Deposit:
    """One opened deposit and the slot (direction) the bot kept it in."""

    slot: Direction
    key: EpochKey

    def same_key(self, other: _Deposit) -> bool:
        return all(prim.constant_time_equal(a, b) for a, b in (
            (self.key.key, other.key.key),
            (self.key.patient_identity, other.key.patient_identity),
            (self.key.physician_identity, other.key.physician_identity)))


def _line(epoch: int, what: str, why: str) -> str:
    """One report line: month, which item, why it was left out. Never content."""
    return f"{format_epoch(epoch)} {what}: {why}; skipped"


def _slot_name(direction: Direction | None) -> str:
    return "unknown slot" if direction is None else f"{direction.name.lower()} slot"


def open_contents(escrow_private: bytes | bytearray, contents: BundleContents) -> OpenedBundle:
    """Open every deposit, then every message of the epochs a usable deposit covers.

    A deposit that cannot be used is skipped with a line in ``skipped``, never fatal: the
    bot cannot check what is inside a deposit, so one planted by a member (a random key
    sealed under the other member's direction, possible before the bot checked slots)
    or damaged must not keep the quorum from every other month - or from the same month,
    which the genuine deposit opens. Which deposit of a month is genuine is decided by
    the month's messages: the one whose key opens them (tag and sender signature); the
    others are reported. Messages that no deposit of their month opens are reported as
    well. A bundle that is damaged as a whole (another pairing's token, an unknown kind,
    an impossible index) is still refused.
    """
    deposits: dict[int, list[_Deposit]] = defaultdict(list)
    messages: dict[int, list[bytes]] = defaultdict(list)
    positions: dict[int, list[int]] = defaultdict(list)
    skipped: list[str] = []
    pairing = contents.manifest.get("pairing")
    for item_no, raw in enumerate(contents.items):
        token = parse_raw(raw)
        h = token.header
        if h.pairing_id is None or h.pairing_id.hex() != pairing or h.epoch is None:
            raise MalformedToken("break-glass bundle holds a token of another pairing")
        if h.kind is Kind.ESCROW_DEPOSIT:
            _add_deposit(escrow_private, raw, h.epoch, h.direction, deposits=deposits,
                         skipped=skipped)
        elif h.kind is Kind.MESSAGE:
            messages[h.epoch].append(raw)
            positions[h.epoch].append(item_no)
        else:
            raise MalformedToken("break-glass bundle holds a token of an unexpected kind")
    opened: list[tuple[str, int, OpenedMessage]] = []
    missing: dict[int, int] = {}
    for epoch in sorted(set(messages) | set(deposits)):
        raws, candidates = messages.get(epoch, []), _distinct(deposits.get(epoch, []))
        if not raws:
            if len(candidates) > 1:
                skipped.append(_line(epoch, "deposits", "they disagree and no message of "
                                     "the month tells which is genuine (nothing to open)"))
            continue
        if not candidates:
            missing[epoch] = len(raws)
            continue
        _check_indexes(raws)
        for m in _open_month(epoch, candidates, raws, skipped):
            sent = m.sent_at.isoformat()
            opened.append((sent, positions[epoch][m.position], OpenedMessage(
                epoch, m.direction, m.index, m.content_type, sent, m.body)))
    # Sender clocks order the conversation; the relay order breaks ties.
    opened.sort(key=lambda t: (t[0], t[1]))
    return OpenedBundle(contents.header, contents.manifest, [t[2] for t in opened], missing,
                        skipped)


def _add_deposit(escrow_private: bytes | bytearray, raw: bytes, epoch: int,
                 slot: Direction | None, *, deposits: dict[int, list[_Deposit]],
                 skipped: list[str]) -> None:
    """Open one deposit into ``deposits[epoch]``, or say in ``skipped`` why it is unusable.

    The bot keeps one deposit per month and slot, so a second one for a filled slot is
    not from the bot; leaving it out also bounds the trial opening below to two keys.
    """
    if slot is None or any(d.slot is slot for d in deposits[epoch]):
        skipped.append(_line(epoch, f"deposit ({_slot_name(slot)})",
                             "a second deposit for one slot (the bot keeps one per slot)"))
        return
    try:
        key = open_deposit(escrow_private, encode_token(raw))
    except BadToken:
        skipped.append(_line(epoch, f"deposit ({_slot_name(slot)})",
                             "it does not open with the escrow key (damaged, or not made "
                             "by a companion)"))
        return
    deposits[epoch].append(_Deposit(slot, key))


def _distinct(found: list[_Deposit]) -> list[list[_Deposit]]:
    """Deposits grouped by what they hold (both members deposit the same month key)."""
    groups: list[list[_Deposit]] = []
    for deposit in found:
        group = next((g for g in groups if g[0].same_key(deposit)), None)
        if group is None:
            groups.append([deposit])
        else:
            group.append(deposit)
    return groups


def _open_month(epoch: int, candidates: list[list[_Deposit]], raws: Sequence[bytes],
                skipped: list[str]) -> list[RecoveredMessage]:
    """The messages of one month, opened with the deposit that opens the most of them.

    Tried in bundle order, stopping at the first that opens all; every other deposit and
    every message left unopened gets a line in ``skipped``.
    """
    best: tuple[list[_Deposit], list[RecoveredMessage]] | None = None
    for group in candidates:
        got = _open_leniently(group[0].key, raws)
        if best is None or len(got) > len(best[1]):
            best = (group, got)
        if len(got) == len(raws):
            break
    assert best is not None  # candidates is never empty here
    chosen, got = best
    for group in candidates:
        if group is chosen:
            continue
        for deposit in group:
            skipped.append(_line(epoch, f"deposit ({_slot_name(deposit.slot)})",
                                 "its key differs from the deposit that opens this month's "
                                 "messages (planted or damaged)"))
    if len(got) < len(raws):
        skipped.append(_line(epoch, f"{len(raws) - len(got)} message(s)",
                             "no deposit of the month opens them (damaged or forged)"))
    return got


def _open_leniently(epoch_key: EpochKey, raws: Sequence[bytes]) -> list[RecoveredMessage]:
    """:func:`crypto.endpoint.escrow.open_epoch_tokens` that leaves out what fails.

    The same single walk of each direction's chain in index order (linear in the highest
    index, which :func:`_check_indexes` bounds), but a token whose tag or sender
    signature does not verify under this key is left out instead of failing the month.
    That is what tells a genuine deposit from a planted one, and what keeps one damaged
    message from hiding the rest. Kept here, beside its only caller, rather than as a
    mode of the companion-facing recipe, which stays all-or-nothing.
    """
    tokens = [parse_raw(raw) for raw in raws]
    signer = {Direction.PATIENT_TO_PHYSICIAN: epoch_key.patient_identity,
              Direction.PHYSICIAN_TO_PATIENT: epoch_key.physician_identity}
    order = sorted(range(len(tokens)), key=lambda i: (tokens[i].header.direction or 0,
                                                       tokens[i].header.index or 0))
    chains: dict[Direction, tuple[int, bytes]] = {}
    out: list[RecoveredMessage] = []
    for position in order:
        token = tokens[position]
        direction, index = token.header.direction, token.header.index
        if direction is None or index is None:  # parse_raw gives MESSAGE headers both
            continue
        at, ck = chains.get(direction) or (0, initial_chain_key(
            epoch_key.key, epoch_key.pairing_id, epoch_key.epoch, direction))
        while at < index:
            ck = chain_step(ck)[1]
            at += 1
        chains[direction] = (at, ck)
        try:
            inner = prim.xchacha_decrypt(chain_step(ck)[0], token.nonce, token.body,
                                         token.header_bytes)
            env = envelope.open_(token.header_bytes, inner, signer[direction])
        except BadToken:
            continue
        out.append(RecoveredMessage(position, direction, index, env.content_type, env.body,
                                    env.sent_at))
    return out


def _check_indexes(raws: Sequence[bytes]) -> None:
    """Refuse indexes no relayed conversation can reach, before any chain is walked.

    Opening walks each chain from index 0 to the highest index (one HMAC pair per step)
    and only then checks the AEAD tag, so a forged bundle - anyone can seal to the public
    escrow key - with index 2^32-1 would keep the opener busy for hours. A receiving
    companion accepts at most ``SKIP_PER_TOKEN`` skipped keys per token and the bot stores
    every token it relays, so ``SKIP_PER_TOKEN * (tokens in that direction + 1)`` bounds
    every honest index; the work stays linear in the bundle's size.
    """
    counts: dict[Direction | None, int] = defaultdict(int)
    for raw in raws:
        counts[parse_raw(raw).header.direction] += 1
    for raw in raws:
        h = parse_raw(raw).header
        if (h.index or 0) >= SKIP_PER_TOKEN * (counts[h.direction] + 1):
            raise LimitExceeded("a message index in the bundle is beyond what was relayed")


def open_bundle(data: bytes, mnemonics: Sequence[str], passphrase: bytes = b"") -> OpenedBundle:
    """Recover the key from the shares, open ``data``, wipe the key whatever happens."""
    parse_header(data)  # a file that is not a bundle fails before any share is combined
    key = recover_escrow_key(mnemonics, passphrase)
    try:
        return open_contents(key, unseal(key, data))
    finally:
        prim.wipe(key)
