"""Demo chapter: the audit log - a signed checkpoint, ``audit verify`` and the head.

Everything the story did (pairing, relays, rotation, shred, break-glass, the lost
phone's /shred) left a
hash-chained, pseudonymous entry. The bot's job context signs a checkpoint; then the
operator runs the real ``medcrypt-bot audit verify`` and ``audit head`` against the
demo's database, as an auditor would.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medcrypt.demo.story import Demo

_OK = re.compile(r"Audit log OK, (?:not witnessed|witnessed up to seq \d+): (\d+) entries, "
                 r"head seq (\d+) \(\w+\), (\d+) signed checkpoints")


async def audit_chapter(demo: Demo) -> tuple[int, int]:
    """Returns (entries, checkpoints) as ``audit verify`` reported them."""
    print("\n12. The audit log")
    cp = await asyncio.to_thread(demo.jobs.audit.checkpoint_now)
    demo.say("bot", f"signs a checkpoint at seq {cp.seq} (what `medcrypt-bot audit "
                    "checkpoint` does)")
    report = (await demo.operator.run("audit", "verify")).strip()
    for line in report.splitlines():
        demo.say("verify", line)
    found = _OK.search(report)
    head = (await demo.operator.run("audit", "head")).strip().splitlines()
    for line in head[:2]:
        demo.say("head", line)
    if found is None:
        raise AssertionError(f"audit verify did not report OK: {report[:200]}")
    return int(found.group(1)), int(found.group(3))
