"""Text from a peer, made safe to print on a terminal: control characters shown, not obeyed.

A decrypted message is whatever the other side (or whoever holds their phone) typed. A
terminal acts on some characters instead of showing them: ESC starts ANSI/OSC sequences
that retitle the window, move the cursor, erase a line or conceal text; a carriage
return overprints the line; bidi overrides reorder what follows. Printed raw, a message
can hide words or show a different dose than the one it carries.

:func:`shown` replaces each such character by a visible escape - ``\\xHH`` below U+0100,
``\\uHHHH`` above - and keeps line feeds and tabs for layout:

* C0 controls U+0000-U+001F except ``\\n`` and ``\\t``, DEL U+007F, C1 U+0080-U+009F;
  a carriage return is kept only where it ends a line (``\\r\\n``, text typed on
  Windows): there it cannot overprint anything;
* bidi embeddings and overrides U+202A-U+202E and isolates U+2066-U+2069.

Only the human-readable output is escaped; ``--json`` output carries the exact text
(JSON escapes control characters itself).
"""

from __future__ import annotations

import re

_ACTIVE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]|\r(?!\n)")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: str) -> str:
    """``text`` with every character a terminal would act on written out visibly."""
    return _ACTIVE.sub(_visible, text)
