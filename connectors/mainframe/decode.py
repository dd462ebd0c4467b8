"""Decode the bytes of one elementary item: text, zoned decimal (DISPLAY, with sign
overpunch), packed decimal (COMP-3) and big-endian binary (COMP, COMP-4, COMP-5, BINARY).

Numbers come out as exact decimal text ('-123.45', '0.05', '42'), never as floats: the
mapping casts them to the target type, where a value that does not fit is quarantined
instead of rounded. A numeric item that is all spaces or all low-values (0x00) has no
digits and comes out as '' (declare `null_markers: [""]` in the spec to load it as NULL).

Zoned decimals follow the file's character set: EBCDIC digits are F0-F9 with the sign in
the zone of the last (or first) byte (C/A/E/F positive, D/B negative); ASCII digits are
30-39 with the usual ASCII overpunch ({, A-I positive; }, J-R and p-y negative).
"""

from __future__ import annotations

from dataclasses import dataclass

from ferryman.connectors.mainframe.layout import Field

# C0 controls, DEL and C1 controls: what `control_chars: space` turns into spaces.
CONTROL_TO_SPACE = {c: " " for c in [*range(0x20), *range(0x7F, 0xA0)]}


class DecodeProblem(ValueError):
    """The bytes of an item are not a valid value of its type."""


@dataclass(frozen=True)
class Zoned:
    """How one character set writes DISPLAY numbers."""

    digits: dict[int, int]
    overpunch: dict[int, tuple[int, bool]]
    """Byte in the sign position -> (digit, negative)."""
    space: int
    plus: int
    minus: int


def _ebcdic() -> Zoned:
    overpunch = {}
    for d in range(10):
        for zone in (0xF0, 0xC0, 0xA0, 0xE0):
            overpunch[zone | d] = (d, False)
        for zone in (0xD0, 0xB0):
            overpunch[zone | d] = (d, True)
    return Zoned({0xF0 | d: d for d in range(10)}, overpunch, 0x40, 0x4E, 0x60)


def _ascii() -> Zoned:
    overpunch = {0x30 + d: (d, False) for d in range(10)}
    overpunch[ord("{")] = (0, False)
    overpunch[ord("}")] = (0, True)
    for d in range(1, 10):
        overpunch[ord("A") + d - 1] = (d, False)
        overpunch[ord("J") + d - 1] = (d, True)
    overpunch.update({0x70 + d: (d, True) for d in range(10)})  # Micro Focus
    return Zoned({0x30 + d: d for d in range(10)}, overpunch, 0x20, 0x2B, 0x2D)


EBCDIC = _ebcdic()
ASCII = _ascii()


def zoned_rules(codec: str) -> Zoned | None:
    """The zoned-decimal rules of a codec, None when it writes digits some other way."""
    digit = "0".encode(codec)
    if digit == b"\xf0":
        return EBCDIC
    if digit == b"0":
        return ASCII
    return None


def decimal_text(negative: bool, digits: str, scale: int) -> str:
    """'-' + digits with the implied decimal point put in; no leading zeros, no '-0'."""
    digits = digits.lstrip("0") or "0"
    if scale:
        digits = digits.rjust(scale + 1, "0")
        digits = f"{digits[:-scale]}.{digits[-scale:]}"
    if negative and digits.strip("0.") != "":
        return "-" + digits
    return digits


def decode_number(f: Field, raw: bytes, rules: Zoned) -> str:
    if len(raw) < f.size:
        raise DecodeProblem(f"the record ends after {len(raw)} of its {f.size} bytes")
    if f.kind == "packed":
        return _packed(f, raw, rules)
    if f.kind == "binary":
        value = int.from_bytes(raw, "big", signed=f.signed)
        if not f.native and len(str(abs(value))) > f.digits:
            raise DecodeProblem(
                f"binary value {value} has more than the {f.digits} digits of its PIC"
            )
        return decimal_text(value < 0, str(abs(value)), f.scale)
    return _zoned(f, raw, rules)


def _packed(f: Field, raw: bytes, rules: Zoned) -> str:
    if _blank(raw, rules):
        return ""
    nibbles = raw.hex()
    digits, sign = nibbles[:-1], int(nibbles[-1], 16)
    if not digits.isdigit():
        raise DecodeProblem(f"packed decimal has a non-digit nibble: {nibbles.upper()}")
    if sign in (0xD, 0xB):
        return decimal_text(_negative(f, f"sign nibble {sign:X}"), digits, f.scale)
    if sign not in (0xC, 0xA, 0xE, 0xF):
        raise DecodeProblem(f"packed decimal has no sign nibble (last nibble {sign:X})")
    return decimal_text(False, digits, f.scale)


def _negative(f: Field, what: str) -> bool:
    if not f.signed:
        raise DecodeProblem(f"negative {what} in an unsigned item")
    return True


def _zoned(f: Field, raw: bytes, rules: Zoned) -> str:
    if _blank(raw, rules):
        return ""
    body, negative = raw, False
    if f.sign_separate:
        sign_byte = raw[0] if f.sign_leading else raw[-1]
        body = raw[1:] if f.sign_leading else raw[:-1]
        if sign_byte not in (rules.plus, rules.minus):
            raise DecodeProblem(f"separate sign byte {sign_byte:02X} is neither '+' nor '-'")
        negative = sign_byte == rules.minus and _negative(f, "sign")
    body = body.strip(bytes([rules.space]))  # a number padded with spaces by its writer
    if not body:
        return ""
    sign_at = -1 if f.sign_separate else (0 if f.sign_leading else len(body) - 1)
    digits = []
    for i, b in enumerate(body):
        if i == sign_at and b in rules.overpunch:
            digit, minus = rules.overpunch[b]
            negative = minus and _negative(f, f"sign in byte {b:02X}")
        elif b in rules.digits:
            digit = rules.digits[b]
        else:
            raise DecodeProblem(f"byte {b:02X} is not a digit")
        digits.append(str(digit))
    return decimal_text(negative, "".join(digits), f.scale)


def _blank(raw: bytes, rules: Zoned) -> bool:
    return raw.count(rules.space) == len(raw) or raw.count(0) == len(raw)


def trim(text: str, how: str) -> str:
    if how == "right":
        return text.rstrip(" ")
    if how == "both":
        return text.strip(" ")
    if how == "left":
        return text.lstrip(" ")
    return text
