"""An encrypted file carried inside a PDF, for WhatsApp through Twilio (keyless).

Why: Twilio delivers WhatsApp media only of the types it documents (images, audio,
video, PDF and Office documents, vCard) and checks that a file's ``Content-Type``
matches its bytes; an encrypted container is none of those, and ``application/
octet-stream`` is refused. Images may be recompressed, which would destroy ciphertext;
documents are passed on unchanged. So the relay wraps the container in a small, valid
PDF: one page telling the recipient what the file is, and the container, byte for
byte, as the PDF's one embedded file. The companion takes it back out
(``medcrypt open-file`` accepts either form). docs/adr/0023-platform-behaviour.md has
the trade-offs.

Nothing here reads or needs a key: the wrapper adds no protection and needs none (the
container's own AEAD authenticates every byte of it). :func:`unwrap` reads exactly the
layout :func:`wrap` writes and nothing else; it is not a PDF parser.
"""

from __future__ import annotations

from medcrypt.crypto.errors import MalformedToken

#: What the PDF's page says (printable ASCII only: it is written as a PDF string as is).
_PAGE_LINES = (
    "This document is an encrypted MedCrypt file.",
    "It cannot be read as it is. Save it, then open it with the MedCrypt companion:",
    "    medcrypt open-file <this file>",
)
_MAGIC = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
#: The dictionary that opens the embedded container's stream; unwrap looks for it.
_EMBEDDED = b"<< /Type /EmbeddedFile /Subtype /application#2Foctet-stream /Length "
_STREAM = b" >>\nstream\n"
_END = b"\nendstream\nendobj\n"
#: Media type the wrapped file is served with (one Twilio lists for WhatsApp documents).
CONTENT_TYPE = "application/pdf"
#: File name users see for a wrapped container (Content-Disposition).
FILE_NAME = "medcrypt-message.pdf"
#: Most bytes the wrapper adds to a container (1065 for an empty one, plus the digits of
#: its length): a platform's size limit, less this, is the largest container that fits.
MAX_OVERHEAD = 1100


def _page_stream() -> bytes:
    text = b"BT /F1 12 Tf 50 790 Td 16 TL"
    for line in _PAGE_LINES:
        text += b" (" + line.encode("ascii") + b") Tj T*"
    return text + b" ET"


def wrap(container: bytes) -> bytes:
    """``container`` as the one embedded file of a one-page PDF (valid PDF 1.7)."""
    page = _page_stream()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names "
        b"[(message.mcf) 5 0 R] >> >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 6 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(page)).encode() + _STREAM + page + b"\nendstream",
        b"<< /Type /Filespec /F (message.mcf) /UF (message.mcf) /EF << /F 7 0 R >> >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(_MAGIC)
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    offsets.append(len(out))
    out += (b"7 0 obj\n" + _EMBEDDED + str(len(container)).encode() + _STREAM
            + container + _END)
    xref = len(out)
    out += f"xref\n0 {len(offsets) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
    out += (f"trailer\n<< /Size {len(offsets) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n"
            "%%EOF\n").encode()
    return bytes(out)


def is_wrapped(data: bytes) -> bool:
    """Whether ``data`` starts like a PDF (the only form :func:`unwrap` accepts)."""
    return data.startswith(b"%PDF-")


def unwrap(data: bytes) -> bytes:
    """The container inside a PDF made by :func:`wrap`; :class:`MalformedToken` for any
    other PDF or bytes."""
    if not data.startswith(_MAGIC):
        raise MalformedToken("not a MedCrypt PDF wrapper")
    start = data.find(_EMBEDDED)
    if start < 0:
        raise MalformedToken("no embedded MedCrypt file in this PDF")
    digits_at = start + len(_EMBEDDED)
    digits_end = data.find(_STREAM, digits_at)
    digits = data[digits_at:digits_end] if digits_end > 0 else b""
    if not digits.isdigit() or len(digits) > 12:
        raise MalformedToken("no embedded MedCrypt file in this PDF")
    begin = digits_end + len(_STREAM)
    end = begin + int(digits)
    if data[end:end + len(_END)] != _END:
        raise MalformedToken("the embedded MedCrypt file is cut short")
    return data[begin:end]
