/**
 * The one error hierarchy of the web companion, mirroring `crypto/errors.py`.
 *
 * Errors are split by who is at fault (the python-tuf habit), because that decides what
 * the caller may do next. Every error carries a stable `code`: the app translates the
 * code through `t()` and never shows `message`, which is English and for developers.
 * Messages never contain plaintext, keys, token bodies or phone numbers.
 */

/** Stable codes the app's i18n catalogs key on; never renamed, only added to. */
export type ErrorCode =
  | "medcrypt"
  | "bad_token"
  | "malformed_token"
  | "decryption_failed"
  | "policy_violation"
  | "replay_detected"
  | "epoch_shredded"
  | "epoch_mismatch"
  | "epoch_not_yet"
  | "offer_expired"
  | "offer_reused"
  | "wrong_pairing"
  | "limit_exceeded"
  | "qr_shared"
  | "pairing_cancelled"
  | "pairing_not_verified"
  | "peer_key_changed"
  | "storage_error"
  | "keystore_locked";

/** Root of every error this project raises on purpose. */
export class MedCryptError extends Error {
  readonly code: ErrorCode;

  constructor(message: string, code: ErrorCode = "medcrypt") {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that is not a valid MEDCRYPT artefact (malformed, truncated, unknown version). */
export class BadToken extends MedCryptError {
  constructor(message = "bad token", code: ErrorCode = "bad_token") {
    super(message, code);
  }
}

/** The text or bytes do not parse as the format they claim to be. */
export class MalformedToken extends BadToken {
  constructor(message = "malformed token", code: ErrorCode = "malformed_token") {
    super(message, code);
  }
}

/** Authentication failed. Deliberately carries no detail about why (Fernet's InvalidToken). */
export class DecryptionFailed extends BadToken {
  constructor() {
    super("decryption failed", "decryption_failed");
  }
}

/** A v3 token's month or chain month contradicts the chain segment it claims. */
export class EpochMismatch extends MalformedToken {
  constructor(message = "epoch mismatch") {
    super(message, "epoch_mismatch");
  }
}

/** Well-formed input refused by the protocol's rules; safe to explain to the user. */
export class PolicyViolation extends MedCryptError {
  constructor(message = "refused by policy", code: ErrorCode = "policy_violation") {
    super(message, code);
  }
}

/** A message index was already consumed (or fell out of the skipped-key window). */
export class ReplayDetected extends PolicyViolation {
  constructor(message = "replayed or too old") {
    super(message, "replay_detected");
  }
}

/** The token belongs to a month whose keys no longer exist anywhere. */
export class EpochShredded extends PolicyViolation {
  constructor(message = "month shredded") {
    super(message, "epoch_shredded");
  }
}

/** The token claims a month that has not started yet. */
export class EpochNotYet extends PolicyViolation {
  constructor(message = "month not started") {
    super(message, "epoch_not_yet");
  }
}

/** A pairing offer was used after its deadline. */
export class OfferExpired extends PolicyViolation {
  constructor(message = "offer expired") {
    super(message, "offer_expired");
  }
}

/** A single-use pairing offer was presented a second time. */
export class OfferReused extends PolicyViolation {
  constructor(message = "offer reused") {
    super(message, "offer_reused");
  }
}

/** The token or sender does not belong to the pairing it names. */
export class WrongPairing extends PolicyViolation {
  constructor(message = "wrong pairing") {
    super(message, "wrong_pairing");
  }
}

/** A size or count limit was hit (file too large, too many parts). */
export class LimitExceeded extends PolicyViolation {
  constructor(message = "limit exceeded") {
    super(message, "limit_exceeded");
  }
}

/** Two valid accepts answered one v3 offer: someone else holds the QR. */
export class QrShared extends PolicyViolation {
  constructor(message = "this QR was photographed or shared: pair again") {
    super(message, "qr_shared");
  }
}

/** The physician did not confirm that the codes match, or the pairing was aborted. */
export class PairingCancelled extends PolicyViolation {
  constructor(message = "pairing cancelled") {
    super(message, "pairing_cancelled");
  }
}

/** A v3 session was used before the peer's key confirmation was verified. */
export class PairingNotVerified extends PolicyViolation {
  constructor(message = "pairing not verified") {
    super(message, "pairing_not_verified");
  }
}

/** The peer's identity key differs from the one verified. */
export class PeerKeyChanged extends PolicyViolation {
  constructor(message = "peer key changed") {
    super(message, "peer_key_changed");
  }
}

/** A stored state or keystore is unusable or inconsistent. */
export class StorageError extends MedCryptError {
  constructor(message = "storage error", code: ErrorCode = "storage_error") {
    super(message, code);
  }
}

/** The keystore could not be unlocked (wrong passphrase or damaged file). */
export class KeystoreLocked extends StorageError {
  constructor(message = "keystore locked") {
    super(message, "keystore_locked");
  }
}
