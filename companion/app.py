"""One unlocked companion: keystore + identity + pairing sessions + the calendar.

Every command that touches keys goes through :func:`open_companion`, which

1. unlocks the keystore (Argon2id) and takes its lock for the life of the command,
2. applies the calendar to every pairing - entering new epochs, shredding those past
   their grace window together with the file keys and the history entries of those
   months - drops expired pairing offers, and saves at once, so shredding happens even
   if the command itself then fails, and
3. hands the command a :class:`Companion` whose changes are saved only by an explicit
   :meth:`Companion.commit` after the command succeeded ("nothing written on failure").

Keystore document (JSON inside the sealed file, docs/adr/0003-keystore.md)::

    {"format": "medcrypt-companion/1", "role": "patient"|"physician",
     "identity": <seed b64>, "escrow_public": <b64>|null, "bot_contact": str,
     "pairings": {<pairing hex>: {"session": <crypto.session state>, "paired_at": iso,
                                  "deposits": {<epoch>: <ESCROW_DEPOSIT token>},
                                  "history": bool (absent: kept, as before it was asked),
                                  v3 only: "protocol": 3, "session" is PROTOCOL §28's
                                  state, patient: "verified": <VerifiedPeer>,
                                  physician: "pinned_record": <b64>|null,
                                  upgraded from v2: "retired_v2": <medcrypt-session/1-retired>;
                                  physician, upgrade offered: "upgrade": <upgrade state>}},
     "offers": {<pairing hex>: {"pending": <PendingOffer state>|null, "expires_at": int,
                                "png": str|null, v3 only: "protocol": 3 and "pending"
                                is the physician's pairing state (crypto v3 physician)}},
     "accepting": {<pairing hex>: {"pending": <v3 patient pairing state>|null,
                                   "expires_at": int, "history": bool}}  (v3, patient:
                   accepts sent, waiting for the physician's KEY_CONFIRM),
     "received_files": {<file id hex>: {"pairing": hex, "manifest": <hex>, "epoch": int}},
     "history": [{"pairing", "way", "epoch" ("YYYY-MM"), "at", "kind", "text" | "file",
                  received only: "index", "sent_at"}],
     "ended": {<pairing hex>: iso}  (pairings ended with `pair end`: no key, id and time only)}
"""

from __future__ import annotations

import base64
import contextlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from medcrypt.companion.env import clock_from_env, read_passphrase, resolve_home
from medcrypt.companion.i18n import N_, Word, error
from medcrypt.companion.keystore import Keystore
from medcrypt.companion.v3session import PROTOCOL_V3, V3Session
from medcrypt.crypto.clock import Clock, FixedClock
from medcrypt.crypto.endpoint.pairing import PendingOffer, Role
from medcrypt.crypto.endpoint.session import IdentityKey, PairingSession
from medcrypt.crypto.endpoint.v3.verified import VerifiedPeer, require_verified
from medcrypt.crypto.errors import (
    ConfigError,
    OfferExpired,
    PairingNotVerified,
    StorageError,
    WrongPairing,
)
from medcrypt.crypto.keyless.epochs import epoch_of, parse_month
from medcrypt.crypto.keyless.tags import parse_tag, tag_of_hex

#: A pairing's session, v2 or v3: both offer what the commands use (companion.v3session).
AnySession = PairingSession | V3Session

STATE_FORMAT = "medcrypt-companion/1"
#: Newest history entries kept (oldest dropped first); `history clear` empties it.
MAX_HISTORY = 2000
#: Expired offers are kept this long as secret-free tombstones for a precise error.
OFFER_TOMBSTONE_DAYS = 30
#: A patient's sent v3 accept waits this long past the offer's expiry for the
#: physician's KEY_CONFIRM (a relay may deliver it late); then its secrets are wiped.
CONFIRM_WAIT = timedelta(days=1)


def new_state(role: Role, identity: IdentityKey, *, escrow_public: bytes | None,
              bot_contact: str) -> dict[str, Any]:
    return {
        "format": STATE_FORMAT, "role": role.value, "identity": identity.export(),
        "escrow_public": None if escrow_public is None else b64e(escrow_public),
        "bot_contact": bot_contact, "pairings": {}, "offers": {}, "received_files": {},
        "history": [],
    }


def history_epoch(entry: dict[str, Any]) -> int:
    """The epoch (month) a history entry's message travelled in.

    Entries carry it as "YYYY-MM"; sent entries written before they did are dated by the
    instant they were sealed, which is in the same month (one clock per command).
    """
    if entry.get("epoch"):
        return parse_month(str(entry["epoch"]))
    return epoch_of(datetime.fromisoformat(str(entry["at"])))


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


class Companion:
    """The unlocked state of one companion for the duration of one command."""

    def __init__(self, store: Keystore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        state = store.state
        if state.get("format") != STATE_FORMAT:
            raise error(StorageError, N_("the keystore holds an unknown document format"))
        try:
            self.role = Role(state["role"])
            self.identity = IdentityKey.import_(state["identity"])
        except (KeyError, ValueError):
            raise error(StorageError, N_("the keystore document is damaged")) from None
        self._sessions: dict[str, AnySession] = {}
        #: What the schedule shredded when this command opened the keystore.
        self.last_shredded: list[tuple[str, int]] = []
        #: History entries deleted with their month, by (pairing, epoch).
        self.history_purged: Counter[tuple[str, int]] = Counter()

    # ------------------------------------------------------------------ state access

    @property
    def state(self) -> dict[str, Any]:
        return self.store.state

    @property
    def escrow_public(self) -> bytes | None:
        value = self.state.get("escrow_public")
        return None if value is None else b64d(value)

    def pairing_ids(self) -> list[str]:
        return sorted(self.state["pairings"])

    def session(self, pairing_hex: str) -> AnySession:
        """The live session object for a pairing (loaded once per command).

        A v3 patient session is handed out only while the key it verified (KEY_CONFIRM,
        bound to the physician key's fingerprint) is still the session's peer key:
        anything else is :class:`PeerKeyChanged`, loud on purpose.
        """
        session = self._loaded(pairing_hex)
        record = self.state["pairings"][pairing_hex]
        if isinstance(session, V3Session) and self.role is Role.PATIENT:
            require_verified(verified_peer(record.get("verified")), session.pairing_id,
                             session.peer_identity)
        return session

    def _loaded(self, pairing_hex: str) -> AnySession:
        """The session without the verified check: shredding and ``pair end`` must work
        even when the peer key is refused - deleting keys is always safe."""
        if pairing_hex not in self._sessions:
            record = self.state["pairings"].get(pairing_hex)
            if record is None:
                raise error(WrongPairing, N_("this companion has no such pairing"))
            if record.get("protocol") == PROTOCOL_V3:
                self._sessions[pairing_hex] = V3Session.load(
                    record["session"], self.identity, self.clock,
                    retired_state=record.get("retired_v2"))
            else:
                self._sessions[pairing_hex] = PairingSession.from_state(
                    record["session"], self.identity)
        return self._sessions[pairing_hex]

    def protocol(self, pairing_hex: str) -> int:
        """2 or 3: the protocol version a pairing speaks (fixed at pairing)."""
        return int(self.state["pairings"][pairing_hex].get("protocol", 2))

    def resolve_pairing(self, selector: str | None) -> str:
        """A pairing id from its tag (``K7Q-2MX``, what the bot's replies say), a unique
        hex prefix of 4+ characters, or nothing when there is one pairing only."""
        ids = self.pairing_ids()
        wanted = None if selector is None else selector.strip().lower()
        ended = [p for p in self.state.get("ended", {})
                 if wanted is not None and len(wanted) >= 4 and p.startswith(wanted)]
        tag = None if selector is None else parse_tag(selector)
        by_tag = [p for p in ids if tag is not None and tag_of_hex(p) == tag]
        if not by_tag and not any(p.startswith(wanted or "") for p in ids) and len(ended) == 1:
            raise self.missing_pairing(ended[0], N_("that id"))
        if not ids:
            if self.state.get("accepting"):
                raise error(PairingNotVerified, N_(
                    "this pairing is not verified yet: wait for the physician's confirmation "
                    "and open it with 'medcrypt pair confirm TOKEN'"))
            raise error(ConfigError, N_("no pairings yet; run 'medcrypt pair ...' first"),
                        key="--pairing")
        if wanted is None:
            if len(ids) > 1:
                raise error(ConfigError, N_("several pairings exist; name one (see status)"),
                            key="--pairing")
            return ids[0]
        matches = [p for p in ids if p.startswith(wanted)] if len(wanted) >= 4 else []
        found = set(matches) | set(by_tag)
        if len(found) != 1:
            raise error(ConfigError, N_("matches no pairing, or more than one"),
                        key="--pairing")
        return found.pop()

    def missing_pairing(self, pairing_hex: str, what: str) -> WrongPairing:
        """The error for ``what`` (a token, a manifest: a msgid marked ``N_``) of a
        pairing this device lacks.

        A pairing ended here with ``pair end`` says so, with when: its keys are gone for
        good, which "unknown pairing" would not tell.
        """
        ended = self.ended_at(pairing_hex)
        if ended is not None:
            return error(WrongPairing, N_(
                "{what} belongs to pairing {pairing}, which was ended on this device at "
                "{ended} ('medcrypt pair end'): its keys are gone; pair anew to talk again"),
                what=Word(what), pairing=pairing_hex[:8], ended=ended)
        return error(WrongPairing, N_("{what} belongs to a pairing this companion does not "
                                      "have"), what=Word(what))

    def add_session(self, session: AnySession, *, history: bool,
                    extra: dict[str, Any] | None = None) -> str:
        """Store a new pairing's session; ``extra`` holds v3's verified/pinned fields."""
        pairing_hex = session.pairing_id.hex()
        self._sessions[pairing_hex] = session
        record: dict[str, Any] = {
            "session": session.export_state(), "paired_at": self.clock.now().isoformat(),
            "deposits": {}, "history": history,
        }
        if isinstance(session, V3Session):
            record["protocol"] = PROTOCOL_V3
        record.update(extra or {})
        self.state["pairings"][pairing_hex] = record
        return pairing_hex

    def upgrade_to_v3(self, pairing_hex: str, session: V3Session,
                      extra: dict[str, Any]) -> None:
        """Replace a v2 pairing's session by its v3 upgrade (PROTOCOL §35): the v2
        object was retired (next-month key and sending chains wiped); the record keeps
        its history choice and deposits, and from now on speaks v3."""
        record = self.state["pairings"][pairing_hex]
        self._sessions[pairing_hex] = session
        record["session"] = session.export_state()
        record["protocol"] = PROTOCOL_V3
        record.pop("upgrade", None)
        record.update(extra)

    def end_pairing(self, pairing_hex: str) -> dict[str, int]:
        """Delete every key of one pairing on this device, for good; returns what went.

        The pairing's session (its months' chain keys and the keys of messages not yet
        opened), its escrow deposits, the keys of files it delivered and its history
        entries all leave the document, and the session object is wiped. Only its id and
        the time stay, as a tombstone, so a token of it later gets a precise error rather
        than "unknown pairing". Nothing is gone until :meth:`commit` rewrites the keystore
        file (atomically: a crash leaves the old file or the new one).
        """
        session = self._loaded(pairing_hex)
        months = len(session.live_epochs)
        record = self.state["pairings"].pop(pairing_hex)
        del self._sessions[pairing_hex]
        session.wipe()
        files: dict[str, dict[str, Any]] = self.state["received_files"]
        dropped_files = [f for f, r in files.items() if r["pairing"] == pairing_hex]
        for file_id in dropped_files:
            del files[file_id]
        history: list[dict[str, Any]] = self.state["history"]
        self.state["history"] = [e for e in history if e["pairing"] != pairing_hex]
        self.state.setdefault("ended", {})[pairing_hex] = self.clock.now().isoformat()
        return {"months": months, "deposits": len(record.get("deposits", {})),
                "files": len(dropped_files),
                "history": len(history) - len(self.state["history"])}

    def ended_at(self, pairing_hex: str) -> str | None:
        """When this device ended the pairing (``pair end``), or None."""
        value = self.state.get("ended", {}).get(pairing_hex)
        return None if value is None else str(value)

    def keeps_history(self, pairing_hex: str) -> bool:
        """Whether the user chose, for this pairing, to keep a copy of its messages.

        Pairings made before the question was asked kept history; they still do until
        ``history off``.
        """
        return bool(self.state["pairings"][pairing_hex].get("history", True))

    def set_history(self, pairing_hex: str, keep: bool) -> None:
        self.state["pairings"][pairing_hex]["history"] = keep

    def record_deposit(self, pairing_hex: str, epoch: int, token: str) -> None:
        self.state["pairings"][pairing_hex]["deposits"][str(epoch)] = token

    def add_history(self, entry: dict[str, Any]) -> None:
        """Keep a copy of one message - only if its pairing keeps history."""
        if not self.keeps_history(entry["pairing"]):
            return
        history: list[dict[str, Any]] = self.state["history"]
        history.append(entry)
        del history[:-MAX_HISTORY]

    # ------------------------------------------------------------------ calendar

    def apply_schedule(self) -> list[tuple[str, int]]:
        """Rotate and shred every pairing; drop expired offers. Returns what was shredded."""
        shredded: list[tuple[str, int]] = []
        for pairing_hex in self.pairing_ids():
            session = self._loaded(pairing_hex)
            for epoch in session.advance(self.clock):
                shredded.append((pairing_hex, epoch))
            deposits: dict[str, str] = self.state["pairings"][pairing_hex]["deposits"]
            live = {str(e) for e in session.live_epochs}
            for epoch_text in [e for e in deposits if e not in live]:
                del deposits[epoch_text]
        # A received file's key lives only as long as the epoch that delivered it.
        files: dict[str, dict[str, Any]] = self.state["received_files"]
        for file_id, record in list(files.items()):
            pairing_hex = record["pairing"]
            if (pairing_hex not in self.state["pairings"]
                    or record["epoch"] not in self._loaded(pairing_hex).live_epochs):
                del files[file_id]
        self._purge_history()
        self._expire_offers()
        return shredded

    def _purge_history(self) -> None:
        """Delete the plaintext of every month whose keys are gone: history lives no longer.

        A shredded month must be unreadable on this device too, not only in the chat.
        """
        live = {p: set(self._loaded(p).live_epochs) for p in self.pairing_ids()}
        kept: list[dict[str, Any]] = []
        for entry in self.state["history"]:
            epoch = history_epoch(entry)
            if epoch in live.get(entry["pairing"], ()):
                kept.append(entry)
            else:
                self.history_purged[(entry["pairing"], epoch)] += 1
        self.state["history"] = kept

    def _expire_offers(self) -> None:
        now = self.clock.now()
        offers: dict[str, dict[str, Any]] = self.state["offers"]
        for pairing_hex, record in list(offers.items()):
            expires = datetime.fromtimestamp(record["expires_at"], tz=now.tzinfo)
            if record["pending"] is not None and now >= expires:
                if record.get("protocol") != PROTOCOL_V3:
                    PendingOffer.load(record["pending"]).wipe()
                record["pending"] = None  # tombstone: no secret left
                if record.get("png"):
                    with contextlib.suppress(OSError):
                        Path(record["png"]).unlink(missing_ok=True)  # a useless QR now
                    record["png"] = None
            if now >= expires + timedelta(days=OFFER_TOMBSTONE_DAYS):
                del offers[pairing_hex]
        accepting: dict[str, dict[str, Any]] = self.state.get("accepting", {})
        for pairing_hex, record in list(accepting.items()):
            expires = datetime.fromtimestamp(record["expires_at"], tz=now.tzinfo)
            if now >= expires + CONFIRM_WAIT:
                del accepting[pairing_hex]  # E_p and RK0 leave with it: never confirmed

    def pending_offer(self, pairing_hex: str) -> PendingOffer:
        record = self.state["offers"].get(pairing_hex)
        if record is None or record["pending"] is None:
            raise error(OfferExpired, N_("no open pairing offer with this id on this device "
                                         "(it expired, or was made elsewhere); create a new "
                                         "offer"))
        return PendingOffer.load(record["pending"])

    # ------------------------------------------------------------------ persistence

    def commit(self) -> None:
        """Write every session's state back and seal the keystore."""
        for pairing_hex, session in self._sessions.items():
            if pairing_hex in self.state["pairings"]:
                record = self.state["pairings"][pairing_hex]
                record["session"] = session.export_state()
                if isinstance(session, V3Session) and session.retired is not None:
                    record["retired_v2"] = session.retired.export_state()
        self.store.save()

    def close(self) -> None:
        for session in self._sessions.values():
            session.wipe()
        self._sessions.clear()
        self.identity.wipe()
        self.store.close()


def verified_peer(value: Any) -> VerifiedPeer | None:
    """The stored "verified" mark of a v3 pairing (None if absent or damaged)."""
    if not isinstance(value, dict):
        return None
    try:
        return VerifiedPeer(b64d(str(value["pairing_id"])), str(value["fingerprint"]),
                            int(value["verified_at"]))
    except (KeyError, TypeError, ValueError):
        return None


def home_of(args: Any) -> Path:
    return resolve_home(getattr(args, "home", None))


@contextmanager
def open_companion(args: Any) -> Iterator[Companion]:
    """Unlock, apply the calendar (saved at once), yield; the caller commits on success."""
    # One instant per command, so a month boundary cannot fall between two steps.
    clock = FixedClock(clock_from_env().now())
    home = home_of(args)
    if not Keystore.exists(home):
        raise error(StorageError, N_("no keystore in {home}; run 'medcrypt init --role ...' "
                                     "first"), home=str(home))
    store = Keystore.unlock(home, read_passphrase())
    try:
        companion = Companion(store, clock)
    except BaseException:
        store.close()
        raise
    try:
        companion.last_shredded = companion.apply_schedule()
        companion.commit()
        yield companion
    finally:
        companion.close()
