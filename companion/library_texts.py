"""The crypto library's fixed English texts that ``medcrypt`` shows, marked for its catalog.

crypto/ is shared with the bot and has no notion of a reader's language (nor may it
import the companion): its errors keep one English message each, which is what logs and
tests see. The companion shows such an error to its user by looking its exact message up
in the ``medcrypt-companion`` catalog (:func:`companion.i18n.error_text`); this module
only marks those messages for extraction, so they get a translation. A message with a
value in it (a month, an index) cannot be looked up and stays English.

``tests/companion/test_i18n_cli_catalog.py`` checks that each text here is still raised,
word for word, somewhere in crypto/ - a reworded library message would otherwise lose
its translation silently.
"""

from __future__ import annotations

import re

from medcrypt.companion.i18n import N_

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

#: The library's messages that carry values (a month, a date): each English pattern, with
#: the values named, and the msgid it is shown as. A shredded month is what a patient meets
#: after the grace window, so it must read in their language with its dates.
#: tests/companion/test_i18n_library_values.py makes the library raise each of them.
PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Each msgid is the library's own English with its values as placeholders, so an
    # English terminal reads exactly what the library says.
    (re.compile(r"messages of (?P<month>\d{4}-\d\d) were shredded at before this device's "
                r"first use of it \(grace ended (?P<grace>\S+)\); they cannot be read"),
     N_("messages of {month} were shredded at before this device's first use of it (grace "
        "ended {grace}); they cannot be read")),
    (re.compile(r"messages of (?P<month>\d{4}-\d\d) were shredded at (?P<when>\S+) "
                r"\(grace ended (?P<grace>\S+)\); they cannot be read"),
     N_("messages of {month} were shredded at {when} (grace ended {grace}); they cannot be "
        "read")),
    (re.compile(r"epoch (?P<month>\d{4}-\d\d) was shredded at (?P<when>\S+) "
                r"\(grace ended (?P<grace>\S+)\)"),
     N_("epoch {month} was shredded at {when} (grace ended {grace})")),
    (re.compile(r"epoch (?P<month>\d{4}-\d\d) was shredded at (?P<when>\S+)"),
     N_("epoch {month} was shredded at {when}")),
    (re.compile(r"month (?P<month>\d{4}-\d\d) has not started yet"),
     N_("month {month} has not started yet")),
    (re.compile(r"epoch (?P<month>\d{4}-\d\d) has not started yet"),
     N_("epoch {month} has not started yet")),
    (re.compile(r"month (?P<month>\d{4}-\d\d) precedes this pairing"),
     N_("month {month} precedes this pairing")),
    (re.compile(r"epoch (?P<month>\d{4}-\d\d) precedes this pairing"),
     N_("epoch {month} precedes this pairing")),
)


def with_values(message: str) -> tuple[str, dict[str, str]] | None:
    """The msgid and values of a library message that carries values, or None."""
    for pattern, msgid in PATTERNS:
        found = pattern.fullmatch(message)
        if found is not None:
            return msgid, found.groupdict()
    return None
