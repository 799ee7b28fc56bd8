"""Chat texts of break-glass. PHI-free: codes, tags, counts, times and the admin's reason
only."""

from __future__ import annotations

from medcrypt.bot.domain.i18n import N_, Msg, msg

USAGE_REQUEST = N_("Usage: /breakglass <pairing tag or id> <reason>")
USAGE_APPROVE = N_("Usage: /approve <request code>")
USAGE_DENY = N_("Usage: /deny <request code>")
ADMIN_ONLY = N_("Only clinic admins can use break-glass commands.")
BAD_REASON = N_("Give a reason of {low} to {high} printable characters.")
UNKNOWN_PAIRING = N_("No pairing with a patient has that tag or id. Nothing was opened.")
AMBIGUOUS_PAIRING = N_("Several pairings start with that id; give more characters or the tag.")
UNKNOWN_REQUEST = N_("No break-glass request has that code.")
NOT_PENDING = N_("Break-glass request {code} is {status}; nothing to do.")
OWN_REQUEST = (N_("You cannot approve your own break-glass request: "
                  "a second admin must approve it."))
SAME_PERSON = (N_("You cannot approve this request: it was asked for from another of your "
                  "accounts. A second admin - another person - must approve it."))
APPOINTED_BY_REQUESTER = (N_("You cannot approve this request: the admin who asked for it made "
                             "you an admin. A second admin - another person, whom the requester "
                             "did not appoint - must approve it."))
REQUESTED = N_("Break-glass request {code} opened for pairing {tag}. A second admin must "
               "send /approve {code} within {minutes} minutes (until {expires}), or "
               "/deny {code}.")
DENIED = N_("Break-glass request {code} denied (pairing {tag}). Nothing was exported.")
APPROVED = (N_("Break-glass request {code} approved for pairing {tag}: a sealed bundle "
               "({deposits} escrow deposits, {messages} messages) was sent to the requesting "
               "admin. Two share holders open it offline with `medcrypt-breakglass open`."))
NOTICE = (N_("Emergency access notice: on {when} two clinic admins approved break-glass access "
             "to the messages of this conversation ({tag}) that are not yet destroyed. "
             "Reason given: {reason}"))

#: A request's stored status in words (NOT_PENDING); an unknown one is shown as stored.
STATUS_WORDS = {"pending": N_("waiting for a second admin"), "approved": N_("approved"),
                "denied": N_("denied"), "expired": N_("expired")}


def status_word(status: str) -> Msg | str:
    """``status`` in words, written later in the recipient's language."""
    word = STATUS_WORDS.get(status)
    return msg(word) if word is not None else status
