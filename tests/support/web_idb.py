"""Reading the web keystore's IndexedDB from a test, without the app.

The sealed record is ciphertext (wrapped under the browser's key, sealed under the
passphrase), and every write seals it under a fresh nonce: its SHA-256 changes with every
commit and with nothing else, so a test can tell whether an action wrote to the keystore.
The names match web/src/keystore/idb.ts.
"""

from __future__ import annotations

from typing import Any

_SEALED_SHA256 = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("medcrypt-keystore");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const db = open.result;
    const get = db.transaction("records", "readonly").objectStore("records").get("keystore");
    get.onerror = () => { db.close(); reject(get.error); };
    get.onsuccess = async () => {
      db.close();
      const sealed = get.result && get.result.sealed;
      if (!(sealed instanceof Uint8Array)) return resolve(null);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", sealed));
      resolve(Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
    };
  };
})"""


def sealed_sha256(page: Any) -> str:
    """SHA-256 (hex) of the keystore's sealed record as stored now; fails if there is none."""
    digest = page.evaluate(_SEALED_SHA256)
    assert isinstance(digest, str), "no sealed keystore record in this browser"
    return digest
