"""The one exception hierarchy of MedCrypt bridge.

Errors are split by *who is at fault* (the python-tuf habit), because that decides
what the caller may do next:

* :class:`BadToken` - hostile or corrupted data from outside. Never retried, never
  explained in detail to the sender (an oracle helps attackers).
* :class:`DecryptionFailed` - the single opaque authentication failure (Fernet's
  ``InvalidToken``): wrong key, flipped bit, transplanted value all look the same.
* :class:`PolicyViolation` - well-formed input that the rules refuse: replay, shredded
  or future epoch, expired offer. Safe to explain to the user.
* :class:`TransportError` - a platform or network failed; usually retried.
* :class:`ConfigError` - the operator's configuration is wrong; fail at start.
* :class:`StorageError` - the database or keystore is unusable or inconsistent.

Messages never contain plaintext, keys, token bodies or phone numbers: they may end up
in logs and chat replies.  The CLIs map each family to a documented exit code.
"""

from __future__ import annotations


class MedCryptError(Exception):
    """Root of every error this project raises on purpose."""

    #: Process exit status the CLIs use for this family (documented in README.md).
    exit_code: int = 1


class BadToken(MedCryptError):
    """Input that is not a valid MEDCRYPT artefact (malformed, truncated, unknown version)."""

    exit_code = 3


class MalformedToken(BadToken):
    """The text or bytes do not parse as the format they claim to be."""


class DecryptionFailed(BadToken):
    """Authentication failed. Deliberately carries no detail about why."""

    def __init__(self, message: str = "decryption failed") -> None:
        super().__init__(message)


class PolicyViolation(MedCryptError):
    """Well-formed input refused by the protocol's rules."""

    exit_code = 4


class ReplayDetected(PolicyViolation):
    """A message index was already consumed (or fell out of the skipped-key window)."""


class EpochShredded(PolicyViolation):
    """The token belongs to an epoch whose key no longer exists anywhere."""


class EpochMismatch(MalformedToken):
    """A v3 token's month or chain month contradicts the chain segment it claims (v3)."""


class EpochNotYet(PolicyViolation):
    """The token claims an epoch that has not started yet."""


class OfferExpired(PolicyViolation):
    """A pairing offer was used after its deadline."""


class OfferReused(PolicyViolation):
    """A single-use pairing offer was presented a second time."""


class WrongPairing(PolicyViolation):
    """The token or sender does not belong to the pairing it names."""


class LimitExceeded(PolicyViolation):
    """A size or rate limit was hit (file too large, too many parts, too many requests)."""


class QrShared(PolicyViolation):
    """Two valid accepts answered one v3 offer: someone else holds the QR (a photo, a
    shared screen). The pairing is aborted on both ends; a new QR starts over."""

    TEXT = "this QR was photographed or shared: pair again"

    def __init__(self, message: str = TEXT) -> None:
        super().__init__(message)


class PairingCancelled(PolicyViolation):
    """The physician did not confirm that the verification codes match (Cancel is the
    default), or the pairing was aborted; nothing was confirmed."""


class PairingNotVerified(PolicyViolation):
    """A v3 session was used before the peer's key confirmation was verified."""


class PeerKeyChanged(PolicyViolation):
    """The peer's identity key differs from the one verified: loud on purpose, the user
    must re-verify in person before trusting the new key."""


class TransportError(MedCryptError):
    """A platform, network or peer failed to deliver; usually worth retrying."""

    exit_code = 5


class ConfigError(MedCryptError):
    """The configuration or environment is unusable. Always names the offending key."""

    exit_code = 2

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config error: {key}: {reason}")
        self.key = key
        self.reason = reason


class StorageError(MedCryptError):
    """The database, keyring or keystore is unusable or inconsistent."""

    exit_code = 6


class DatabaseUnavailable(StorageError):
    """The database cannot be reached or written right now: it may come back (a server
    still starting, a volume not yet mounted), so start-up tries again before failing."""


class KeyVersionMissing(StorageError):
    """Data is sealed under a key version that is not in the configured keyring."""


class DekDestroyed(KeyVersionMissing):
    """The data key a value was sealed under has been destroyed (the person was erased):
    the value is gone for good, whatever a replica still holds in memory."""


class ProviderError(MedCryptError):
    """The key provider (HSM, Transit, KMS) refused or failed an operation.

    Subclasses say whose move it is: :class:`ProviderDown` and :class:`ProviderThrottled`
    may succeed when retried, :class:`ProviderDenied` never will until an operator changes
    the provider's policy or configuration. Messages name the provider and the operation,
    never key material, wrapped bytes or the context's values.
    """

    exit_code = 6


class ProviderDown(ProviderError):
    """The provider cannot be reached or its session is gone (retry later)."""

    exit_code = 5


class ProviderThrottled(ProviderDown):
    """The provider asked us to slow down (KMS ThrottlingException, HTTP 429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderDenied(ProviderError):
    """The provider's policy forbids this operation to our credentials, or the key or
    mechanism it needs is missing, disabled or pending deletion."""

    exit_code = 2


class KeystoreLocked(StorageError):
    """The companion keystore could not be unlocked (wrong passphrase or damaged file)."""


class AuditChainBroken(MedCryptError):
    """The audit log failed verification; the message names the first bad sequence."""

    exit_code = 7

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"audit chain broken at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason
