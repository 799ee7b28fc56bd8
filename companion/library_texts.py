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
