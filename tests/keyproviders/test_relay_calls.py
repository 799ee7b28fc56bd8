"""The counted test of issue 17: with the PKCS#11 provider (SoftHSM2), a relay run through
the sandbox makes ZERO provider calls per message - including the first message of a new
person - once the epoch KEK is warm.

The calls are counted by the provider itself (``Pkcs11Provider.calls``, one count per
request sent to the token), not by a mock: the bot runs its real composition root with
``keys.provider = "pkcs11"``, and every identity it creates gets its own DEK in the key
tree, wrapped locally under the KEK the bot unwrapped once at start.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
from medcrypt.crypto.server.keytree import KeyTree
from tests.support.clocks import MovableClock
from tests.support.conversation import make_escrow
from tests.support.keyservers import SoftHsm
from tests.support.rigs import ADMIN_A, PATIENT_WA, PHYSICIAN_TG, START, live_bot
from tests.support.v3relay import deliver, pair_v3, rows


async def test_no_provider_call_per_message_nor_per_new_person(
        tmp_path: Path, softhsm_token: SoftHsm) -> None:
    hsm = softhsm_token
    prefix = "r" + uuid.uuid4().hex[:12]
    Pkcs11Provider(hsm.module, hsm.token, hsm.pin, prefix=prefix, create=True).close()
    async with live_bot(
            tmp_path, clock=MovableClock(START), escrow=make_escrow(),
            environ={"MEDCRYPT_PKCS11_PIN": hsm.pin},
            clinic={"admin_telegram_ids": [ADMIN_A]},
            relay={"v2_cutoff_date": "2026-12-01"},
            keys={"provider": "pkcs11", "key_prefix": prefix,
                  "pkcs11": {"module": hsm.module, "token_label": hsm.token}}) as live:
        tree = live.bot.keyring.tree
        assert isinstance(tree, KeyTree) and isinstance(tree.root, Pkcs11Provider)
        provider = tree.root
        # The checkpointer role signs the first checkpoint soon after start, on its own
        # thread (ADR 0036: appends never sign); wait for it, so that what is counted
        # below is the message path alone.
        deadline = time.monotonic() + 30
        while rows(live, "SELECT count(*) FROM audit_checkpoints") == [(0,)]:
            assert time.monotonic() < deadline, "no start-up checkpoint"
            await asyncio.sleep(0.05)
        warm = dict(provider.calls)
        # Start-up: health, the checkpoint public key, the first checkpoint's signature,
        # and the KEK (wrap: a new database).
        assert warm.get("sign", 0) == 1
        assert warm.get("wrap", 0) + warm.get("unwrap", 0) == 1
        before = rows(live, "SELECT count(*) FROM deks WHERE person_id IS NOT NULL")[0][0]
        # Both people are new: the physician's registration and the patient's accept are
        # their first messages, and each creates an identity with its own DEK.
        assert live.escrow is not None
        chat = await pair_v3(live, live.escrow.public)
        now = live.clock.now()
        relayed = 0
        for i in range(10):
            await deliver(live, PHYSICIAN_TG, PATIENT_WA,
                          chat.physician.encrypt(f"note {i}".encode(), now=now))
            await deliver(live, PATIENT_WA, PHYSICIAN_TG,
                          chat.patient.encrypt(f"reply {i}".encode(), now=now))
            relayed += 2
        assert dict(provider.calls) == warm, "a provider call on the message path"
        # Every identity the run created (physician, patient, the configured admin) is
        # sealed under a DEK of its own, and nobody's address is outside the tree.
        people = rows(live, "SELECT count(*) FROM platform_identities "
                            "WHERE dek_id IS NOT NULL")[0][0]
        assert isinstance(people, int) and people >= 2
        assert rows(live, "SELECT count(*) FROM platform_identities WHERE dek_id IS NULL "
                          "AND address IS NOT NULL") == [(0,)]
        assert rows(live, "SELECT count(*), count(DISTINCT person_id) FROM deks "
                          "WHERE person_id IS NOT NULL") == [(people, people)]
        # The audit log's keys (a subject key per new person and pairing, the pseudonym
        # key) are sealed under purpose DEKs of the same tree, made without a provider
        # call too; nothing the run wrote is left on the keyring format.
        assert rows(live, "SELECT DISTINCT d.purpose FROM audit_subject_keys k "
                          "JOIN deks d ON d.id = k.dek_id") == [("audit-subject",)]
        assert rows(live, "SELECT d.purpose FROM audit_secrets s "
                          "JOIN deks d ON d.id = s.dek_id") == [("audit-secret",)]
        assert rows(live, "SELECT count(*) FROM audit_subject_keys WHERE dek_id IS NULL"
                    ) == [(0,)]
        # the two audit purposes and the epoch's blind-index key (ADR 0039 Am. 1)
        assert rows(live, "SELECT purpose FROM deks WHERE person_id IS NULL "
                          "ORDER BY purpose") == [("audit-secret",), ("audit-subject",),
                                                  ("blind-index",)]
        assert rows(live, "SELECT provider, count(*) FROM keks GROUP BY provider") == [
            ("pkcs11", 1)]
        assert isinstance(before, int) and people - before >= 2  # the two new people
        assert relayed == 20
