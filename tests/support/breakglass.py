"""Break-glass pieces several suites share: a fixed code and instant, bundle items, and
the chat round of request and second-admin approval through a live bot."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from medcrypt.crypto.keyless.wire import parse_token
from tests.support.conversation import Conversation
from tests.support.rigs import ADMIN_A, ADMIN_B, PHYSICIAN_TG, Rig, until

AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
CODE = "0123456789"
CODE_RE = re.compile(r"request ([0-9a-f]{10}) opened")


def items_of(conv: Conversation) -> list[bytes]:
    texts = conv.deposits + [t for t, _p, _e in conv.sent]
    return [parse_token(t).raw for t in texts]


async def request_and_approve(rig: Rig, pairing_hex: str) -> tuple[str, bytes]:
    reply = await rig.tg_says(ADMIN_A, f"/breakglass {pairing_hex[:12]} patient unconscious in ER",
                              expect="opened")
    match = CODE_RE.search(reply)
    assert match, reply
    code = match.group(1)
    refused = await rig.tg_says(ADMIN_A, f"/approve {code}", expect="own")
    assert "second admin" in refused
    refused = await rig.tg_says(PHYSICIAN_TG, f"/approve {code}", expect="Only clinic admins")
    approved = await rig.tg_says(ADMIN_B, f"/approve {code}", expect="approved")
    assert "4 messages" in approved and "2 escrow deposits" in approved
    await until(lambda: any(m.document for m in rig.tg.messages_to(ADMIN_A)))
    doc = next(m for m in rig.tg.messages_to(ADMIN_A) if m.document)
    assert doc.file_name == f"breakglass-{code}.mcbg"
    assert doc.document is not None
    assert not any(m.document for m in rig.tg.messages_to(ADMIN_B))
    return code, doc.document
