"""Getting a pairing offer into the patient's companion: from a QR image or pasted text.

The QR holds ``medcrypt-pair:2:<base64url>`` (v3, crypto.endpoint.v3.offer) or, for
v2 offers, ``medcrypt-pair:1:<base64url>`` (crypto.pairing). People paste it from
wherever they copied it - with surrounding words, line breaks inserted by a messenger,
or a trailing full stop - so the text is located first, then parsed strictly by
:func:`crypto.pairing.parse_offer_text` (checksum included). Only MalformedToken escapes.
"""

from __future__ import annotations

import re
from pathlib import Path

from medcrypt.companion.i18n import N_, error
from medcrypt.crypto.endpoint.pairing import QR_SCHEME, parse_offer_text
from medcrypt.crypto.endpoint.v3.offer import QR_VERSION as QR_VERSION_V3
from medcrypt.crypto.endpoint.v3.offer import parse_offer_text_v3
from medcrypt.crypto.errors import MalformedToken

#: Longest pasted text searched (an offer is ~200 characters).
MAX_INPUT_CHARS = 10_000
_OFFER_RE = re.compile(re.escape(QR_SCHEME) + r"\d+:[A-Za-z0-9_-]+", re.IGNORECASE)


def extract_offer_text(text: str) -> str:
    """The canonical offer text found in ``text`` (validated; raises MalformedToken)."""
    if len(text) > MAX_INPUT_CHARS:
        raise error(MalformedToken, N_("the pasted text is too long to hold a pairing offer"))
    # Messengers wrap long words: rejoin lines before searching.
    joined = re.sub(r"\s+", "", text)
    match = _OFFER_RE.search(joined)
    if match is None:
        raise error(MalformedToken,
                    N_("no MedCrypt pairing offer (medcrypt-pair:...) in the text"))
    candidate = match.group(0)
    if candidate.lower().startswith(f"{QR_SCHEME}{QR_VERSION_V3}:"):
        parse_offer_text_v3(candidate)  # v3 offer: QR format 2 (PROTOCOL §30)
    else:
        parse_offer_text(candidate)
    return candidate


def offer_from_image(path: Path) -> str:
    """Decode the QR in a PNG or photo and return the validated offer text."""
    from medcrypt.companion.qr import read_qr  # lazy: Pillow/zxing only when needed

    return extract_offer_text(read_qr(path))
