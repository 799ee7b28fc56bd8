"""Chat texts of break-glass. PHI-free: codes, tags, counts, times and the admin's reason
only."""

from __future__ import annotations

USAGE_REQUEST = "Usage: /breakglass <pairing tag or id> <reason>"
USAGE_APPROVE = "Usage: /approve <request code>"
USAGE_DENY = "Usage: /deny <request code>"
ADMIN_ONLY = "Only clinic admins can use break-glass commands."
BAD_REASON = "Give a reason of {low} to {high} printable characters."
UNKNOWN_PAIRING = "No pairing with a patient has that tag or id. Nothing was opened."
AMBIGUOUS_PAIRING = "Several pairings start with that id; give more characters or the tag."
UNKNOWN_REQUEST = "No break-glass request has that code."
NOT_PENDING = "Break-glass request {code} is {status}; nothing to do."
OWN_REQUEST = ("You cannot approve your own break-glass request: "
               "a second admin must approve it.")
SAME_PERSON = ("You cannot approve this request: it was asked for from another of your "
               "accounts. A second admin - another person - must approve it.")
APPOINTED_BY_REQUESTER = ("You cannot approve this request: the admin who asked for it made "
                          "you an admin. A second admin - another person, whom the requester "
                          "did not appoint - must approve it.")
REQUESTED = ("Break-glass request {code} opened for pairing {tag}. A second admin must "
             "send /approve {code} within {minutes} minutes (until {expires}), or /deny {code}.")
DENIED = "Break-glass request {code} denied (pairing {tag}). Nothing was exported."
APPROVED = ("Break-glass request {code} approved for pairing {tag}: a sealed bundle "
            "({deposits} escrow deposits, {messages} messages) was sent to the requesting "
            "admin. Two share holders open it offline with `medcrypt-breakglass open`.")
NOTICE = ("Emergency access notice: on {when} two clinic admins approved break-glass access "
          "to the messages of this conversation ({tag}) that are not yet destroyed. "
          "Reason given: {reason}")
