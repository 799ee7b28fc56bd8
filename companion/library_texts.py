"""The crypto library's fixed English texts that ``medcrypt`` shows, marked for its catalog.

crypto/ is shared with the bot and has no notion of a reader's language (nor may it
import the companion): its errors keep one English message each, which is what logs and
tests see. The companion shows such an error to its user by looking its exact message up
in the ``medcrypt-companion`` catalog (:func:`companion.i18n.error_text`); this module
only marks those messages for extraction, so they get a translation. A message with
values in it (a month, a byte count, a field's name) is recognised by its shape
(:data:`PATTERNS`, built from the library's own wording with the values named) and shown
from that msgid with the values filled in, counts through ngettext.

``tests/companion/test_i18n_cli_catalog.py`` checks that each text here is still raised,
word for word, somewhere in crypto/ - a reworded library message would otherwise lose
its translation silently.
"""

from __future__ import annotations

import re
import string
from typing import NamedTuple

from medcrypt.companion.i18n import N_, Nn_, Word

TEXTS: tuple[str, ...] = (
    # authentication (one opaque failure) and the v3 pairing's aborts
    N_("decryption failed"),
    N_("this QR was photographed or shared: pair again"),
    N_("the physician confirmed another device's answer: this QR was photographed or "
       "shared: pair again"),
    N_("the codes were not confirmed; the pairing was cancelled"),
    N_("no valid accept to confirm yet"),
    # the physician screen's state once confirmed
    N_("VERIFIED"),
    # tokens that do not parse
    N_("token is empty or too large"),
    N_("token payload has an impossible length or padding"),
    N_("token payload is not base64"),
    N_("token payload is not canonical base64"),
    N_("token text is too long"),
    N_("not a MEDCRYPT v2 or v3 token"),
    N_("token text and binary version differ"),
    N_("token is truncated"),
    N_("token is too large"),
    N_("unsupported token version"),
    N_("unknown token kind"),
    N_("unknown v3 token kind"),
    N_("expected a message token"),
    N_("unexpected token kind for this pairing step"),
    # whose token it is
    N_("token belongs to another pairing"),
    N_("token travels in this side's own direction (reflected)"),
    N_("token's chain precedes this pairing"),
    N_("key confirmation is for another pairing"),
    N_("accept token is for another pairing offer"),
    N_("a companion cannot pair with itself"),
    N_("this offer was made by another identity"),
    # offers
    N_("this pairing offer has expired; ask for a new QR code"),
    N_("this pairing offer has expired; create a new one"),
    N_("this pairing offer was already used"),
    N_("this pairing was already confirmed"),
    N_("pairing offer text is damaged"),
    N_("pairing offer text is damaged (checksum)"),
    N_("pairing offer is truncated"),
    N_("unsupported pairing offer version"),
    # limits and calendar
    N_("this pairing starts in a later month"),
    N_("this segment is exhausted; wait for the next month"),
    N_("this month's chain is exhausted; wait for the next epoch"),
    # keystore and session state
    N_("the keystore passphrase is empty"),
    N_("the keystore file is truncated"),
    N_("not a MedCrypt keystore (or an unsupported version)"),
    N_("session state is damaged"),
)

#: zxcvbn's advice on a weak passphrase (its feedback.py, wrapped there in the standard
#: library's gettext but shipped without catalogs), word for word, so a Spanish terminal
#: reads it in Spanish. tests/companion/test_i18n_library_values.py fails if zxcvbn no
#: longer says one of them.
ZXCVBN_TEXTS: tuple[str, ...] = (
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_('All-uppercase is almost as easy to guess as all-lowercase.'),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
)

#: The library's refusals that carry values, each as the library writes it with its values
#: named: the msgid, so an English terminal reads exactly what the library says (for a
#: count, the plural msgid, and its singular in :data:`PATTERNS`'s entry). A shredded month
#: is what a patient meets after the grace window, a file over the limit what a physician
#: meets sealing a scan: each must read in their language, with its values.
#: tests/companion/test_i18n_library_shapes.py walks crypto/ and fails on a refusal with
#: values that the companion can reach and no entry here matches.
_MONTHS = (
    N_("messages of {month} were shredded at before this device's first use of it (grace "
       "ended {grace}); they cannot be read"),
    N_("messages of {month} were shredded at {when} (grace ended {grace}); they cannot be "
       "read"),
    N_("epoch {month} was shredded at {when} (grace ended {grace})"),
    N_("epoch {month} was shredded at {when}"),
    N_("month {month} has not started yet"),
    N_("epoch {month} has not started yet"),
    N_("month {month} precedes this pairing"),
    N_("epoch {month} precedes this pairing"),
    N_("v2 epoch {month} was never entered: this pairing was upgraded to v3 before it"),
    N_("the keys of {month} on this chain are gone (the message was already read, or its "
       "segment was passed)"),
)
_OTHERS = (
    N_("message {index} was already opened or is too old"),
    N_("epoch {epoch} is outside the supported calendar"),
    N_("not a {what} (expected {prefix}...)"),
    N_("v1 token {what} has an impossible base64 length"),
    N_("v1 token {what} is not base64"),
    N_("v1 token {what} is not canonical base64"),
    N_("only the {role}'s companion takes this upgrade step"),
    N_("the other side's key changed (verified {verified}, now {current}): do not trust it "
       "until you verify the new key in person"),
)
#: Counts: (singular, plural) msgids, the count always ``{n}`` (ngettext's es_MX has two
#: forms). The library raises most of them only above a limit, so its English is the
#: plural; the singular exists for the languages (and the rare count) that need it.
_COUNTS = (
    Nn_("{what} must be {n} byte", "{what} must be {n} bytes"),
    Nn_("file is larger than the {n}-byte limit", "file is larger than the {n}-byte limit"),
    Nn_("message body of {n} byte exceeds {limit}", "message body of {n} bytes exceeds {limit}"),
    Nn_("message body exceeds {n} byte", "message body exceeds {n} bytes"),
    Nn_("bot contact must be at most {n} byte", "bot contact must be at most {n} bytes"),
    Nn_("expected {n} byte of base64, got {got}", "expected {n} bytes of base64, got {got}"),
    Nn_("grace window of {n} day is not allowed", "grace window of {n} days is not allowed"),
    Nn_("grace window must be 0..{n} day", "grace window must be 0..{n} days"),
    Nn_("grace window of {n} day is outside 0..{limit}",
        "grace window of {n} days is outside 0..{limit}"),
    Nn_("a walk of {n} month exceeds {limit}", "a walk of {n} months exceeds {limit}"),
    Nn_("message {index} skips {n} message (limit {limit})",
        "message {index} skips {n} messages (limit {limit})"),
    Nn_("token skips {n} message key (limit {limit})",
        "token skips {n} message keys (limit {limit})"),
    Nn_("a character limit of {n} is too small for a part",
        "a character limit of {n} is too small for a part"),
    Nn_("token would need {n} part (limit {limit})", "token would need {n} parts (limit {limit})"),
    Nn_("token announces {n} part (limit {limit})", "token announces {n} parts (limit {limit})"),
)

#: The library's names of what it checks (``what`` in ``_need(value, 32, "nonce")`` and
#: friends) and the two roles: English words inside a refusal, shown in the user's language
#: (:class:`~medcrypt.companion.i18n.Word`). The source test collects every such name
#: crypto/ passes, so a new one cannot stay English unnoticed.
WORDS: tuple[str, ...] = (
    N_("MedCrypt pairing offer"), N_("MedCrypt v3 pairing offer"),
    N_("patient"), N_("physician"),
    N_("patient id"), N_("nonce"), N_("ciphertext"), N_("tag"), N_("key"),
    N_("pairing id"), N_("transcript"), N_("patient identity"), N_("identity key"),
    N_("escrow key"),
    N_("signature"), N_("ephemeral key"), N_("X25519 private key"), N_("X25519 public key"),
    N_("secretstream key"), N_("secretstream header"), N_("HChaCha20 nonce"),
    N_("Ed25519 seed"), N_("Ed25519 public key"), N_("Argon2id salt"),
    N_("offer hash"), N_("group id"), N_("file id"), N_("escrow public key"),
    N_("escrow private key"), N_("confirmation prefix"), N_("confirmation MAC"),
    N_("admission value"), N_("admission hash"), N_("accept prefix"), N_("accept hash"),
    N_("accept body"),
)
#: Placeholders that hold a word of :data:`WORDS`, each with what it may match.
_WORD_VALUES = {"what": r"[A-Za-z0-9 ]+?", "role": r"patient|physician"}
#: Placeholders that are not numbers, and what each may match. Any other placeholder is a
#: decimal number (at most 40 digits: int() refuses far longer ones), passed on as an
#: ``int`` so a translation may group its digits (``{n:,}``; es-MX groups as English
#: does, 16,000,000).
_VALUES = {
    "month": r"\d{4}-\d\d", "when": r"\S+", "grace": r"\S+", "prefix": r"\S+",
    "verified": r"[0-9a-f]+", "current": r"[0-9a-f]+", **_WORD_VALUES,
}


class Valued(NamedTuple):
    """One refusal with values: how it reads in English, and how to recognise it."""

    #: The library's wording, values named: the msgid (a count's plural msgid).
    english: str
    #: A count's singular msgid (the count is ``{n}``), or None.
    singular: str | None
    pattern: re.Pattern[str]


def _entry(english: str, singular: str | None = None) -> Valued:
    regex = "".join(
        re.escape(literal) + (f"(?P<{name}>{_VALUES.get(name, r'-?[0-9]{1,40}')})" if name else "")
        for literal, name, _spec, _conv in string.Formatter().parse(english))
    return Valued(english, singular, re.compile(regex))


#: Tried in order: a more specific reading (a fixed value) before the general one.
PATTERNS: tuple[Valued, ...] = (
    *(_entry(m) for m in _MONTHS),
    *(_entry(m) for m in _OTHERS),
    *(_entry(plural, singular) for singular, plural in _COUNTS),
)


def with_values(message: str) -> tuple[Valued, dict[str, object]] | None:
    """The entry and values of a library message that carries values, or None.

    Numbers come back as ``int``; the names of :data:`WORDS` as
    :class:`~medcrypt.companion.i18n.Word` (shown translated); anything else as text.
    """
    for entry in PATTERNS:
        found = entry.pattern.fullmatch(message)
        if found is not None:
            return entry, {name: _value(name, text) for name, text in found.groupdict().items()}
    return None


def _value(name: str, text: str) -> object:
    if name in _WORD_VALUES:
        return Word(text) if text in WORDS else text
    return text if name in _VALUES else int(text)
