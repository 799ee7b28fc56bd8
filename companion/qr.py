"""QR codes for pairing offers: segno to draw them, zxing-cpp to read them back.

Why these libraries: segno is a pure-Python, maintained QR encoder that writes both a
terminal rendering and a PNG without extra dependencies; zxing-cpp is a real decoder
(wheels, no system library) that copes with phone photos - perspective, rotation, blur,
noise - which is what a patient will actually hand to the companion.

The CLI imports this module lazily (only ``pair offer`` / ``pair accept --qr`` need it)
so that ``medcrypt decrypt`` does not pay for Pillow and zxing at start-up.
"""

from __future__ import annotations

import io
from pathlib import Path

import segno
import zxingcpp
from PIL import Image, UnidentifiedImageError

from medcrypt.companion.i18n import N_, error
from medcrypt.companion.private_file import replaced_privately
from medcrypt.crypto.errors import MalformedToken

#: Error correction level: M (15 %) survives a photo with some glare and blur while
#: keeping an offer (~200 characters) at a low QR version that phones focus on easily.
ERROR_LEVEL = "m"
PNG_SCALE = 8
#: Refuse decompression bombs before decoding (a 40 Mpx phone photo is plenty).
MAX_IMAGE_PIXELS = 40_000_000


def render_terminal(text: str) -> str:
    """The QR for ``text`` as half-block characters for a terminal."""
    out = io.StringIO()
    segno.make(text, error=ERROR_LEVEL, boost_error=False).terminal(out=out, compact=True)
    return out.getvalue()


def write_png(text: str, path: Path, *, scale: int = PNG_SCALE) -> None:
    """Write the QR for ``text`` as a PNG (4-module quiet zone, black on white), mode 0600.

    The image carries the one-time offer secret: no other account may read it.
    """
    qr = segno.make(text, error=ERROR_LEVEL, boost_error=False)
    with replaced_privately(path) as out:
        qr.save(out, kind="png", scale=scale, border=4)


#: The only image formats handed to a decoder, by their magic bytes. Anything else -
#: EPS (which Pillow renders by running Ghostscript), TIFF, WebP, BMP ... - is refused
#: before Pillow sees it: a pairing photo never needs those decoders, so their bugs are
#: pure risk. The name of the file decides nothing.
DECODABLE = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}


def _sniff(head: bytes) -> str:
    for fmt, magic in DECODABLE.items():
        if head.startswith(magic):
            return fmt
    raise error(MalformedToken,
                N_("the image is not a PNG or JPEG file (other formats are refused)"))


def read_qr(path: Path) -> str:
    """Decode the first QR code found in a PNG or JPEG file (a screenshot, a phone photo)."""
    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        # One open file for the check and the decoding: nothing can swap it in between.
        with path.open("rb") as raw:
            fmt = _sniff(raw.read(8))
            raw.seek(0)
            with Image.open(raw, formats=[fmt]) as img:
                gray = img.convert("L")
    except FileNotFoundError:
        raise error(MalformedToken, N_("image not found: {path}"), path=str(path)) from None
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise error(MalformedToken, N_("the file is not a readable image")) from None
    only_qr = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    results = zxingcpp.read_barcodes(gray, formats=only_qr)
    texts = [r.text for r in results if r.valid and r.text]
    if not texts:
        raise error(MalformedToken, N_("no QR code found in the image"))
    return str(texts[0])
