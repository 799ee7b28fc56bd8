/**
 * The web keystore's public face (web/src/keystore): what the app imports.
 * See store.ts for the lifecycle and docs/adr/0030-web-keystore.md for why.
 */
export { Keystore } from "./store.js";
export type { CreateOptions, Created, KeystoreOptions, Restored, TransactResult } from "./store.js";
export { KeystoreError, isKeystoreError } from "./errors.js";
export type { KeystoreErrorCode } from "./errors.js";
export { sessionOf, withSession, needsRepair, DOCUMENT_FORMAT } from "./document.js";
export type { KeystoreDocument, PairingRecord, JsonObject } from "./document.js";
export type { Json } from "./canonical-json.js";
export { exportFileName, openExport, EXPORT_MIME } from "./export-file.js";
export {
  canonicalOf, foldWords, generatePassphrase, generatedLanguage, requireGenerated, wordList,
  GENERATED_FORM, LIST_SIZE, WORD_COUNT, WORD_LANGUAGES,
} from "./passphrase.js";
export type { Draw, GeneratedPassphrase, WordLanguage } from "./passphrase.js";
export { currentPersistence, requestPersistence } from "./persistence.js";
export type { PurgeRisk, StorageReport } from "./persistence.js";
export { PROFILE, PROFILE_TEST_MINIMUM } from "./sealing.js";
export type { Argon2Profile } from "./sealing.js";
