"""Fuzz targets for every keyless parser of crypto-core (see tests/fuzz/run_all.py).

Each target takes raw bytes, decodes them as text where the parser takes text (invalid
UTF-8 becomes replacement characters, which the parser must also survive), and may only
raise :class:`crypto.errors.MedCryptError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from medcrypt.crypto.endpoint import escrow, pairing
from medcrypt.crypto.keyless import parts, wire
from medcrypt.crypto.keyless.wire import Direction, Kind
from tests.support.sessions import make_pair

_PID = bytes(range(16))


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def fuzz_parse_token(data: bytes) -> None:
    token = wire.parse_token(_text(data))
    assert wire.encode_token(token.raw) == _text(data).strip()


def fuzz_parse_raw(data: bytes) -> None:
    wire.parse_raw(data)


def fuzz_part_assembler(data: bytes) -> None:
    assembler = parts.PartAssembler()
    for line in _text(data).split("\n"):
        assembler.add(line)


def fuzz_join_parts(data: bytes) -> None:
    parts.join_parts(_text(data).split("\n"))


def fuzz_parse_file_header(data: bytes) -> None:
    wire.parse_file_header(data)


def fuzz_parse_offer_text(data: bytes) -> None:
    pairing.parse_offer_text(_text(data))


def _seed_tokens() -> list[bytes]:
    header = wire.encode_sealed_header(Kind.MESSAGE, _PID, epoch=682,
                                       direction=Direction.PATIENT_TO_PHYSICIAN, index=3,
                                       nonce=bytes(24))
    message = wire.encode_token(header + bytes(range(80)))
    pieces = parts.split_token(wire.encode_token(header + bytes(3000)), 1600,
                               rng=lambda n: b"\x01" * n)
    return [message.encode(), wire.encode_token(wire.encode_register(_PID, 682, 7, 10)).encode(),
            wire.encode_token(wire.encode_accept(_PID, b"\x01" + bytes(96))).encode(),
            "\n".join(pieces).encode(), pieces[0].encode()]


def _seed_offer() -> list[bytes]:
    offer = pairing.Offer(_PID, bytes(32), bytes(range(32)), bytes(range(32, 64)), 682, 7,
                          1_800_000_000, bytes(32), "telegram:@clinic_bot")
    return [offer.to_qr_text().encode(), b"medcrypt-pair:1:"]


def _session_targets() -> tuple[Callable[[bytes], object], Callable[[bytes], object], list[bytes]]:
    """A fixed pairing whose physician decrypts, and an escrow key that opens deposits."""
    pair = make_pair("fuzz")
    first = pair.patient.encrypt(b"seed message", clock=pair.clock)
    seeds = [first.token.encode(), (first.escrow_deposit or "").encode()]

    def decrypt(data: bytes) -> None:
        pair.physician.decrypt(_text(data), clock=pair.clock)

    def open_deposit(data: bytes) -> None:
        escrow.open_deposit(bytes(pair.escrow), _text(data))

    return decrypt, open_deposit, seeds


_TOKENS = _seed_tokens()
_DECRYPT, _OPEN_DEPOSIT, _SESSION_SEEDS = _session_targets()
_FILE = [wire.encode_file_header(_PID, 682, Direction.PHYSICIAN_TO_PATIENT, bytes(16),
                                 version=v) + b"x"
         for v in (wire.FILE_VERSION_PADDED, wire.FILE_VERSION_UNPADDED)]

TARGETS: dict[str, tuple[Callable[[bytes], object], Iterable[bytes]]] = {
    "parse_token": (fuzz_parse_token, _TOKENS),
    "parse_raw": (fuzz_parse_raw, [wire.parse_token(t.decode()).raw for t in _TOKENS[:3]]),
    "part_assembler": (fuzz_part_assembler, _TOKENS[3:]),
    "join_parts": (fuzz_join_parts, _TOKENS[3:]),
    "parse_file_header": (fuzz_parse_file_header, _FILE),
    "parse_offer_text": (fuzz_parse_offer_text, _seed_offer()),
    "session_decrypt": (_DECRYPT, _SESSION_SEEDS[:1]),
    "escrow_open_deposit": (_OPEN_DEPOSIT, _SESSION_SEEDS[1:]),
}
