"""The PDF that carries an encrypted file to WhatsApp (crypto/keyless/pdf_wrap.py)."""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from medcrypt.crypto.errors import MalformedToken
from medcrypt.crypto.keyless import pdf_wrap


@given(st.binary(max_size=5000))
def test_round_trip_is_byte_exact(container: bytes) -> None:
    assert pdf_wrap.unwrap(pdf_wrap.wrap(container)) == container


def test_is_a_well_formed_pdf() -> None:
    """Header, every object where the cross-reference table says, startxref right."""
    pdf = pdf_wrap.wrap(os.urandom(3000) + b"endstream\nendobj\n" + os.urandom(10))
    assert pdf.startswith(b"%PDF-1.7\n") and pdf.endswith(b"%%EOF\n")
    startxref = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", pdf).group(1))  # type: ignore[union-attr]
    assert pdf[startxref:].startswith(b"xref\n0 8\n")
    offsets = [int(m) for m in re.findall(rb"(\d{10}) 00000 n \n", pdf[startxref:])]
    assert len(offsets) == 7
    for number, offset in enumerate(offsets, start=1):
        assert pdf[offset:].startswith(f"{number} 0 obj\n".encode())


@pytest.mark.parametrize("data", [
    b"", b"%PDF-1.4\n%%EOF\n", b"MCF2" + os.urandom(100),
    pdf_wrap.wrap(bytes(1000))[:900],  # cut short inside the container
    pdf_wrap.wrap(b"abc").replace(b"/Length 3 >>", b"/Length 9 >>"),
], ids=["empty", "bare-pdf", "bare-container", "cut-short", "wrong-length"])
def test_anything_else_is_refused(data: bytes) -> None:
    with pytest.raises(MalformedToken):
        pdf_wrap.unwrap(data)


@pytest.mark.parametrize("size", [0, 9, 10, 99_999, 16_000_000])
def test_overhead_is_bounded(size: int) -> None:
    """A container of the WhatsApp limit less MAX_OVERHEAD still fits once wrapped."""
    assert len(pdf_wrap.wrap(bytes(size))) - size <= pdf_wrap.MAX_OVERHEAD
