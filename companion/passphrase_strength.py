"""How guessable a new keystore's passphrase is, by zxcvbn, and the floor: "fair".

The keystore is one file; whoever copies it (a backup, a stolen laptop, malware) can
try passphrases offline, as fast as Argon2id lets them, with no lockout. zxcvbn
(Dropbox's estimator, the ``zxcvbn`` package on PyPI) estimates the number of guesses
an attacker who knows common passwords, words, names, dates, keyboard patterns and
substitutions needs, and rates it 0-4 by powers of ten: below 10^3, 10^6, 10^8, 10^10,
and above. A new keystore needs at least 2, "fair" (10^6 guesses or more); the reasons
for that line are in docs/adr/0003-keystore.md. Existing keystores are never re-rated:
an upgrade must not lock anyone out.

zxcvbn loads large dictionaries, so it is imported here only when ``init`` calls it;
``medcrypt decrypt`` never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from medcrypt.companion.i18n import N_, Sentences, Word, _, error
from medcrypt.crypto.errors import ConfigError

#: The lowest zxcvbn score a new keystore's passphrase may have: 2, "fair".
MIN_SCORE = 2
LABELS = (N_("very weak"), N_("weak"), N_("fair"), N_("good"), N_("strong"))
#: zxcvbn refuses longer input (its matching is quadratic). A longer passphrase is rated
#: by its first 72 characters: a prefix that is already hard to guess keeps the whole so.
MAX_RATED_CHARS = 72
#: Words an attacker would try first against this program's keystores.
HINTS = ("medcrypt", "companion", "keystore", "passphrase", "patient", "physician",
         "doctor", "clinic")


@dataclass(frozen=True)
class Strength:
    score: int
    warning: str
    suggestions: tuple[str, ...]

    @property
    def rating(self) -> str:
        """The rating in English (``fair (2 of 4)``), as tests and logs read it."""
        return f"{LABELS[self.score]} ({self.score} of 4)"

    def rating_shown(self) -> str:
        """The rating in the user's language, for the terminal."""
        return _("{label} ({score} of 4)", label=_(LABELS[self.score]), score=self.score)


def estimate(passphrase: str, hints: Iterable[str] = ()) -> Strength:
    """zxcvbn's rating of ``passphrase``; ``hints`` are words the attacker knows too."""
    from zxcvbn import zxcvbn  # lazy: only `init` loads the dictionaries

    result = zxcvbn(passphrase[:MAX_RATED_CHARS], user_inputs=[*HINTS, *hints])
    feedback = result.get("feedback") or {}
    return Strength(int(result["score"]), str(feedback.get("warning") or ""),
                    tuple(str(s) for s in feedback.get("suggestions") or ()))


def require_fair(passphrase: str, hints: Iterable[str] = ()) -> Strength:
    """The rating, or ConfigError explaining (on one line) why the passphrase is refused."""
    strength = estimate(passphrase, hints)
    if strength.score >= MIN_SCORE:
        return strength
    # zxcvbn's own warning and suggestions are fixed English sentences (it ships no
    # catalogs); ours translates them (companion/library_texts.py: ZXCVBN_TEXTS).
    said = [s for s in (strength.warning, *strength.suggestions) if s]
    advice: str = Sentences(said) if said else Word(
        N_("Use a few uncommon words, or a longer sentence only you would write."))
    raise error(ConfigError, N_(
        "too easy to guess: rated {rating} ({score} of 4); a new keystore needs at least "
        "{floor} ({min_score} of 4), because anyone who copies the keystore can try "
        "guesses offline without limit. {advice}"), key="passphrase",
        rating=Word(LABELS[strength.score]), score=strength.score,
        floor=Word(LABELS[MIN_SCORE]), min_score=MIN_SCORE, advice=advice)
