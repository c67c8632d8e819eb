"""German number, date and currency formatting.

Shared by the PDF output and the web UI so that a figure reads the same
everywhere: 28.808 Einwohner, 158,16 km², Stand 31.12.2019, 1.250.000 €.
No locale module: the process locale is not ours to change and may be
missing in containers.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"


def _group_thousands(digits: str) -> str:
    """'1234567' -> '1.234.567' (digits only, no sign)."""
    groups: list[str] = []
    while len(digits) > 3:
        groups.append(digits[-3:])
        digits = digits[:-3]
    groups.append(digits)
    return ".".join(reversed(groups))


def format_int_de(value: int | None) -> str:
    """28808 -> '28.808'; None -> ''."""
    if value is None:
        return ""
    sign = "-" if value < 0 else ""
    return sign + _group_thousands(str(abs(int(value))))


def format_float_de(value: float | None, decimals: int = 2, *, strip_zeros: bool = False) -> str:
    """158.16 -> '158,16'; 1234.5 -> '1.234,50' (or '1.234,5' with strip_zeros).

    Rounds half up, as people expect from printed figures.
    """
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-decimals) if decimals > 0 else Decimal(1)
    number = Decimal(str(value)).quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if number < 0 else ""
    text = f"{abs(number):f}"
    whole, _, fraction = text.partition(".")
    if strip_zeros:
        fraction = fraction.rstrip("0")
    result = sign + _group_thousands(whole)
    if fraction:
        result += "," + fraction
    return result


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        return datetime.fromisoformat(text).date()


def format_date_de(value: date | datetime | str | None) -> str:
    """date(2019, 12, 31) or '2019-12-31' -> '31.12.2019'; None -> ''.

    Datetimes are shown with their own (stored) date; convert the time zone
    before calling if a local date is wanted.
    """
    if value is None or value == "":
        return ""
    d = _as_date(value)
    return f"{d.day:02d}.{d.month:02d}.{d.year:04d}"


def format_eur_de(value: float | None) -> str:
    """1250000 -> '1.250.000 €'; 1234.5 -> '1.234,50 €' (non-breaking space)."""
    if value is None:
        return ""
    number = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if number == number.to_integral_value():
        text = format_int_de(int(number))
    else:
        text = format_float_de(float(number), 2)
    return f"{text}{NBSP}€"


__all__ = ["NBSP", "format_date_de", "format_eur_de", "format_float_de", "format_int_de"]
