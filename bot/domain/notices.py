"""Every text the bot itself writes to a user: short, PHI-free, platform-neutral.

Kept in one place so reviewers can see at a glance that no reply quotes user input,
a token, a number or a name. Replies for refused tokens say *why* (the sender can act
on it) but never echo the token.

A text marked ``N_(...)`` is a gettext msgid: it reaches a person only through
:func:`bot.domain.i18n.translate` with their language (``Context.say``), and its
translations live in ``bot/locale/`` (docs/adr/0035). Every text here is marked;
``tests/bot/test_i18n_send_sites.py`` fails on one that is not, or on a reply sent
without translation.
"""

from __future__ import annotations

from medcrypt.bot.domain.i18n import N_, Nn_, translate

#: Version of the platform warning shown to a patient at pairing; recorded with consent.
PLATFORM_WARNING_VERSION = "pw-2026-11-v1"

PLATFORM_WARNING = N_(
    "Before you continue: {platform} (the app you are using) can see that you talk to the "
    "clinic, when and how often. It cannot read your messages: they are encrypted on your "
    "device by the MedCrypt companion. By pairing you agree to this."
)

#: The opening of /help; the command list after it is generated from the registry
#: (``bot.commands.help.member_help``), so a new command cannot be left out of it.
HELP_INTRO_COMMANDS = N_(
    "This is the clinic's secure relay. Write your message in the MedCrypt companion app, "
    "then paste the [MEDCRYPT:...] text it gives you here. Commands: {commands}."
)

PLAINTEXT_BLOCKED = N_(
    "Not sent: this chat only carries encrypted messages. Please write in the MedCrypt "
    "companion and paste the [MEDCRYPT:...] text it gives you. Your text was not stored."
)

#: Joined to the plaintext refusals (:func:`emergency`), from ``[clinic]`` settings.
EMERGENCY_NUMBER = N_("Emergency number: {number}.")


def status_word(language: str, status: str) -> str:
    """A pairing status (``PairingRecord.status``) in words, in ``language``."""
    word = PAIRING_STATUS_WORDS.get(status)
    return translate(language, word) if word is not None else status


def emergency(text: str, number: str, language: str) -> str:
    """The clinic's emergency wording (already in ``language``) and number
    (``clinic.emergency_text[_by_language]`` and ``clinic.emergency_number``), as one line."""
    if not number:
        return text
    return f"{text} {translate(language, EMERGENCY_NUMBER, number=number)}"


UNPAIRED_TEXT = N_(
    "Hello! This is the clinic's secure relay. To start, pair with your physician using "
    "the MedCrypt companion (scan the QR code you were given). Type /help for more."
)

V1_REFUSED = N_(
    "Not sent: this is an old-format (v1) MedCrypt message, which this relay does not "
    "carry because it reveals who the patient is. Update the companion and resend."
)
MALFORMED = N_("Not sent: that does not look like a complete MedCrypt message. Copy it again.")
UNKNOWN_PAIRING = N_("Not sent: this message belongs to a pairing this relay does not know.")
WRONG_SENDER = N_("Not sent: this message was not written for this conversation.")
UNKNOWN_KIND = N_("Not sent: this kind of MedCrypt message is not supported here.")
EPOCH_SHREDDED = N_("Not sent: this message uses an expired key. Update the companion and resend.")
EPOCH_GONE = N_("Not sent: the key of {month} has been shredded (its grace period ended, or "
                "the conversation was shredded on request), so messages of that month can "
                "no longer be relayed or read. Update the companion and write again.")
EPOCH_FUTURE = N_(
    "Not sent: this message uses a key that is not valid yet. Check your device clock."
)
PAIRING_INACTIVE = N_("Not sent: this pairing has ended or is not complete yet.")
PAIRING_SHREDDED = (
    N_("Not sent: the clinic shredded conversation {tag} on {at} UTC (a lost or compromised "
       "phone), so it has ended for good and the relay carries none of its messages, in any "
       "month. End it in your companion (medcrypt pair end --pairing {tag}) and ask the "
       "clinic for a new pairing.")
)
DEPOSIT_NOT_YOURS = (
    N_("Not stored: this recovery copy is marked as the other person's. The clinic keeps "
       "each person's recovery copy only when that person sends it. The attempt was recorded.")
)
#: /status, one pair of lines per pairing (bot.commands.status).
STATUS_PAIRING = N_("Pairing {i} ({tag}): you are the {role}; {status}.")
STATUS_KEYS = N_(
    "  Key month {month}; next rotation {next} UTC; previous month readable until {until} UTC."
)
ROLE_MEMBER = N_("member")
ROLE_WORDS = {"physician": N_("physician"), "patient": N_("patient")}
#: A pairing's status in words (/status, /unpair's list, /pairings); unknown: as stored.
PAIRING_STATUS_WORDS = {"pending": N_("waiting for the patient"), "active": N_("active"),
                        "unpaired": N_("ended"), "erased": N_("ended, a member's data erased")}
PAIRING_SHREDDED_WORD = N_("shredded")
NOT_PAIRED = N_("You are not paired yet. Pair with the MedCrypt companion first (/help).")
#: A file over the limit of the platform it came from, or of the one it would go to.
TOO_LARGE_FROM = (
    N_("Not sent: the file is larger than {limit_mb} MB, the most this relay can receive "
       "from {platform}. Send a smaller file.")
)
TOO_LARGE_TO = (
    N_("Not sent: the file is larger than {limit_mb} MB, the most {platform} delivers, and "
       "the person you are writing to uses {platform}. Send a smaller file.")
)
#: Added to a file's refusal when a token came with it (its caption / WhatsApp Body).
CAPTION_NOT_SENT = N_("The message sent with it (its caption) was not sent either.")
MEDIA_UNAVAILABLE = (
    N_("Not sent: your attachment could not be fetched from the messaging service. Please "
       "send it again.")
)
NOT_ENCRYPTED_FILE = (
    N_("Not sent: only files encrypted by the MedCrypt companion can be sent here.")
)
RATE_LIMITED = N_("You are sending messages very fast. Please wait a minute and try again.")
REGISTERED = N_("Pairing offer {tag} registered. Show the QR code to your patient.")
#: The offer's tag is another pairing's (30 bits collide rarely; docs/adr/0031).
TAG_TAKEN = (
    N_("Not registered: by a rare chance another pairing already has the tag {tag}. Make a "
       "new QR code in the companion (medcrypt pair offer) and show that one instead.")
)
ALREADY_REGISTERED = N_("This pairing offer is already registered.")
OFFER_EXPIRED = N_("Not sent: this pairing offer has expired. Ask for a new QR code.")
OFFER_USED = N_("Not sent: this pairing offer was already used.")
PAIRED_PATIENT = (
    N_("You are now paired with your physician (pairing {tag}). Messages stay encrypted end "
       "to end.")
)
PAIRED_PHYSICIAN = N_("Your patient accepted the pairing ({tag}).")
# v3 pairing (docs/PROTOCOL.md §34): nobody is bound before the physician confirms.
ACCEPT_FORWARDED = (
    N_("Sent to your physician. Compare the code on both screens; the connection starts "
       "when your physician confirms it.")
)
ACCEPT_ARRIVED = (
    N_("Pairing answer {n} for QR {tag} arrived at {at} UTC from a {platform} account ending "
       "in {tail}. Confirm in the companion only if both screens show the same code.")
)
ACCEPT_NOT_ADMITTED = (
    N_("Not sent: this pairing answer does not match the QR code. Scan the QR code again.")
)
ACCEPT_OTHER_ACCOUNT = N_("Not sent: this pairing answer was already sent from another account.")
ACCEPT_ALREADY_SENT = (
    N_("Not sent: you already answered this QR code. Wait for your physician to confirm.")
)
QR_SHARED = (
    N_("Pairing {tag} stopped: this QR was photographed or shared: pair again. Two different "
       "accounts answered the same QR code, so nobody was connected.")
)
CONFIRM_UNKNOWN = N_("Not sent: this confirmation names no pairing answer waiting here.")
PAIRED_CONFIRMED = N_("Your patient's device is connected ({tag}). The pairing is verified.")
UPGRADE_OFFER_FORWARDED = (
    N_("Upgrade offer sent to your patient. The connection moves to MedCrypt v3 when their "
       "companion answers.")
)
UPGRADE_ALREADY_V3 = N_("Not sent: this pairing already uses MedCrypt v3.")
UPGRADE_EXPIRED = N_("Not sent: this upgrade offer has expired. Offer the upgrade again.")
UPGRADE_UNKNOWN = (
    N_("Not sent: this upgrade answer does not match the upgrade your physician offered. "
       "Answer the latest offer.")
)
UPGRADE_DONE_PATIENT = (
    N_("Your connection ({tag}) now uses MedCrypt v3: a copied device stops reading your messages "
       "after one exchange.")
)
UPGRADE_DONE_PHYSICIAN = (
    N_("Your patient's companion answered: pairing {tag} now uses MedCrypt v3.")
)
ESCROW_STORED = N_("Recovery copy stored with the clinic.")
# A pairing speaks one protocol version (docs/adr/0026).
V2_ON_V3 = (
    N_("Not sent: this conversation uses MedCrypt v3 and does not carry older (v2) messages. "
       "Update your companion and write again.")
)
V3_ON_V2 = (
    N_("Not sent: this conversation was paired with an older MedCrypt version (v2) and cannot "
       "carry v3 messages. Ask the clinic for a new pairing with the updated companion.")
)
V2_RETIRED = (
    N_("Not sent: the clinic no longer relays MedCrypt v2 messages for {month} or later. "
       "Update your companion and ask the clinic for a new pairing.")
)
RECORD_STORED = N_("Pairing record stored with the clinic for emergency access.")
RECORD_NOT_PHYSICIAN = (
    N_("Not stored: only the physician's companion sends the pairing record of a conversation.")
)
RECORD_FULL = N_("Not stored: this conversation already has its pairing records.")
PART_RECEIVED = N_("Part received; waiting for the rest.")
DELIVERY_FAILED = (
    N_("Your last message could not be delivered. The other person may have left the chat.")
)
TEMPLATE_BODY = N_("You have a new secure message. Reply to this chat to receive it.")
UNPAIRED = N_("Your pairing {tag} has ended. The other person was told.")
PARTNER_UNPAIRED = N_("Your conversation partner ended the pairing ({tag}).")
NO_PAIRINGS_TO_END = N_("You have no pairing to end.")
DELETED = N_("All data the relay held about you has been deleted. Goodbye.")
UNKNOWN_COMMAND = N_("Unknown command. Type /help.")
ADMIN_ONLY = N_("That command is for clinic admins only. The attempt was recorded.")
BAD_ARGUMENTS = N_("That command needs different arguments: {usage}")

# -- the plaintext guard (bot.relay.guard): what was not sent, and whether it is gone ------
#: How each guard notice ends, by whether the sender's platform lets the relay remove it.
REMOVED = N_("It was removed from this chat.")
REMOVE_IT_YOURSELF = N_("{platform} does not let the relay remove it: please delete it yourself.")
COMMAND_BLOCKED = N_(
    "Not sent: this relay has no such command, and a command is one line (type /help for "
    "the list). Messages go through the MedCrypt companion."
)
WORDS_BLOCKED = N_(
    "The plain words with your encrypted message were not sent: this chat only carries "
    "encrypted messages. Write everything in the MedCrypt companion."
)
MEDIA_BLOCKED = N_(
    "Not sent: photos, voice notes, videos and other media cannot travel here unencrypted. "
    "Attach them in the MedCrypt companion, which encrypts them."
)
EDIT_BLOCKED = N_(
    "Not sent: edits do not travel here, and an edited message can show your words "
    "unencrypted. The message as you first sent it was handled already; write any "
    "change in the MedCrypt companion and send it as a new message."
)
LOCATION_BLOCKED = N_(
    "Not sent: a shared location cannot be encrypted here, and it would show where you "
    "are. If your physician needs an address, write it in the MedCrypt companion."
)
PIECE_STRAY = N_(
    "Not sent: this looks like one piece of a pasted MedCrypt message, without the rest. "
    "Copy the whole message from the companion and paste it again."
)
PIECES_INCOMPLETE = Nn_(
    "Not sent: a long MedCrypt message you pasted arrived in pieces, and the rest did not "
    "follow within {n} second. Copy it from the companion and paste it again.",
    "Not sent: a long MedCrypt message you pasted arrived in pieces, and the rest did not "
    "follow within {n} seconds. Copy it from the companion and paste it again.",
)
PART_CONFLICT = (
    N_("Not sent: two different pieces of one multi-part MedCrypt message claimed the same "
       "place. The first one was kept; if the message does not arrive, send it again.")
)

# -- /language (bot.commands.language) ------------------------------------------------------
#: Written in the language just chosen.
LANGUAGE_SET = N_("Replies from the relay will now be in English.")
LANGUAGE_USAGE = N_("Choose the language of the relay's replies: /language es or /language en.")
