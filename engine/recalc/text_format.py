"""Excel's TEXT function: a value written with a number format code, as Excel writes it.

The `formulas` library's TEXT (and IronCalc's) read only the usual codes and give #VALUE! or a
wrong text on much of what Excel accepts. This follows Excel's documented rules for number
format codes, and the behaviour Excel shows on them (checked on the TEXT cells of the corpus):

- up to four sections separated by ";": positive; negative; zero; text. With one section a
  negative number is written with a leading "-"; the negative section writes the number
  without its sign. A last section holding "@" is the text section. Sections may carry a
  condition ("[<100]"): the first section whose condition holds is used, the one after the
  conditional ones otherwise.
- digit placeholders 0 (a digit, or 0), # (a digit, or nothing), ? (a digit, or a space); the
  first "." is the decimal point, later ones are text; "," right after a placeholder is never
  written: between two placeholders it groups the thousands, after the last one it divides by
  1 000; "%" multiplies by 100; E+ / E- write an exponent. The leftmost placeholder of the whole
  part receives every digit the others could not. Any other character (a letter that is no code,
  a digit from 1 to 9, "$", a space), a quoted text and a character after "\\" are written as
  they stand; "_x" writes a space; "*x" (a fill) writes nothing.
- dates and times: y, m, d, h, s (m is minutes after h or before s), AM/PM, A/P, elapsed [h]
  [m] [s], fractions of a second (ss.000), on Excel's calendar (serial 0 is 0 January 1900,
  60 is the 29 February 1900 Excel believes in). A date code among digit placeholders, an "@"
  outside the text section, a negative or too large date: the format is refused (#VALUE!).

A format this module does not write (fractions such as "# ?/?") raises `Unsupported`: the caller
uses the library's own TEXT for it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal

__all__ = ["FormatRefused", "Unsupported", "format_number", "format_text", "number_from_text"]

_MAX_SERIAL = 2958466  # 1 January 10000: past the last date Excel writes
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_OPERATORS = ("<=", ">=", "<>", "<", ">", "=")
_MARKS = {".": "point", ",": "comma", "%": "percent", "@": "at"}  # one-character tokens of a format
_DATE_LETTERS = "ymdhs"


class FormatRefused(ValueError):
    """A format code (or a value for it) Excel refuses: TEXT gives #VALUE!."""


class Unsupported(ValueError):
    """A format code this module does not write."""


# --------------------------------------------------------------------------- parsing a code


def _sections(code: str) -> list[str]:
    """The code split at the ";" that are outside quotes, brackets and escapes."""
    out, start, i, n = [], 0, 0, len(code)
    while i < n:
        ch = code[i]
        if ch == '"':
            end = code.find('"', i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch in "\\_*":
            i += 2
            continue
        if ch == "[":
            end = code.find("]", i + 1)
            i = n if end < 0 else end + 1
            continue
        if ch == ";":
            out.append(code[start:i])
            start = i + 1
        i += 1
    out.append(code[start:])
    return out


def _tokens(section: str) -> tuple[tuple | None, list[tuple]]:
    """(condition (operator, number) or None, tokens) of one section. Tokens: ("lit", text),
    ("digit", "0#?"), ("point",), ("comma",), ("percent",), ("exp", "+"|"-"), ("general",),
    ("at",), ("date", letter, count), ("elapsed", letter, count), ("ampm", text), ("slash",)."""
    condition, tokens, i, n = None, [], 0, len(section)
    while i < n:
        ch = section[i]
        low = ch.lower()
        if ch == '"':
            end = section.find('"', i + 1)
            if end < 0:
                raise FormatRefused("guillemet non fermé")
            tokens.append(("lit", section[i + 1:end]))
            i = end + 1
        elif ch == "\\":
            tokens.append(("lit", section[i + 1:i + 2]))
            i += 2
        elif ch == "_":
            tokens.append(("lit", " "))
            i += 2
        elif ch == "*":
            i += 2
        elif ch == "[":
            end = section.find("]", i + 1)
            end = n if end < 0 else end
            inner = section[i + 1:end]
            i = end + 1
            if inner[:1] in "<>=":
                op = next(o for o in _OPERATORS if inner.startswith(o))
                try:
                    condition = (op, float(inner[len(op):]))
                except ValueError:
                    raise FormatRefused(inner) from None
            elif re.fullmatch(r"(?i)h+|m+|s+", inner):
                tokens.append(("elapsed", inner[0].lower(), len(inner)))
            elif inner.startswith("$"):
                symbol = inner[1:].split("-", 1)[0]
                if symbol:
                    tokens.append(("lit", symbol))
            # anything else ([Red], [Color10], locale): nothing written
        elif ch in "0#?":
            tokens.append(("digit", ch))
            i += 1
        elif ch in _MARKS:
            tokens.append((_MARKS[ch],))
            i += 1
        elif low == "e" and section[i + 1:i + 2] in ("+", "-"):
            tokens.append(("exp", section[i + 1]))
            i += 2
        elif section[i:i + 7].lower() == "general":
            tokens.append(("general",))
            i += 7
        elif section[i:i + 5].upper() == "AM/PM":
            tokens.append(("ampm", "AM/PM"))
            i += 5
        elif section[i:i + 3].upper() == "A/P":
            tokens.append(("ampm", section[i:i + 3]))
            i += 3
        elif low in _DATE_LETTERS:
            j = i
            while j < n and section[j].lower() == low:
                j += 1
            tokens.append(("date", low, j - i))
            i = j
        elif ch == "/":
            tokens.append(("slash",))
            i += 1
        else:
            tokens.append(("lit", ch))
            i += 1
    return condition, tokens


class _Section:
    def __init__(self, text: str):
        self.condition, self.tokens = _tokens(text)
        kinds = {t[0] for t in self.tokens}
        self.is_date = bool(kinds & {"date", "elapsed", "ampm"})
        self.has_at = "at" in kinds
        self.has_digits = "digit" in kinds
        if self.is_date and self.has_digits and not self._fraction_of_second():
            raise FormatRefused("date et chiffres")
        if self.has_digits and "slash" in kinds:
            raise Unsupported("fraction")
        exp_at = next((i for i, t in enumerate(self.tokens) if t[0] == "exp"), None)
        if exp_at is not None and any(t[0] in ("point", "exp") for t in self.tokens[exp_at + 1:]):
            raise FormatRefused("point décimal dans l'exposant")

    def _fraction_of_second(self) -> bool:
        """Whether every digit placeholder of a date section writes a fraction of a second (ss.00)."""
        after_point = False
        last = None
        for t in self.tokens:
            if t[0] == "point":
                after_point = last is not None and last[0] in ("date", "elapsed") and last[1] == "s"
            elif t[0] == "digit":
                if not after_point or t[1] != "0":
                    return False
                continue
            else:
                after_point = False
            last = t
        return True

    def holds(self, value: float) -> bool:
        op, bound = self.condition
        return {"<": value < bound, ">": value > bound, "=": value == bound, "<=": value <= bound,
                ">=": value >= bound, "<>": value != bound}[op]


def _parse(code: str) -> tuple[list[_Section], _Section | None]:
    """(number sections, text section) of a code; every section is checked."""
    sections = [_Section(s) for s in _sections(code)][:4]
    text = None
    if len(sections) == 4:
        text = sections.pop()
    elif len(sections) > 1 and sections[-1].has_at:
        text = sections.pop()
    elif len(sections) == 1 and sections[0].has_at and not sections[0].has_digits and not sections[0].is_date:
        return [], sections[0]
    if any(s.has_at for s in sections):
        raise FormatRefused("@ hors de la section texte")
    return sections, text


# --------------------------------------------------------------------------- writing a value


def format_text(text: str, code: str) -> str:
    """A text that is no number written with the code: its text section, else the text itself."""
    sections, section = _parse(code)
    if section is None:
        return text
    return "".join(text if t[0] == "at" else t[1] if t[0] == "lit" else _plain(t) for t in section.tokens)


def _plain(token) -> str:
    """A code written as text where it means nothing (a placeholder in the text section)."""
    return {"digit": token[1] if len(token) > 1 else "", "point": ".", "comma": ",", "percent": "%",
            "slash": "/"}.get(token[0], "")


def format_number(value: float, code: str) -> str:
    """A number written with the code, as Excel's TEXT writes it."""
    sections, _ = _parse(code)
    if not sections:
        return _general(value)
    section, signed = _choose(sections, value)
    if section is None:
        raise FormatRefused("aucune section")
    number = abs(value)
    sign = "-" if value < 0 and signed else ""
    if section.is_date:
        if value < 0 and signed:
            if not all(t[0] in ("elapsed", "lit") for t in section.tokens):
                raise FormatRefused("date négative")
            return "-" + _date(number, section.tokens)
        return _date(number, section.tokens)
    # the sign leads even a section of text alone ("-w"), and an empty one ("-")
    return sign + _number(number, section.tokens)


def _choose(sections: list[_Section], value: float) -> tuple[_Section | None, bool]:
    """(section for the value, whether the value is written with its own sign)."""
    if any(s.condition for s in sections):
        for i, s in enumerate(sections):
            if s.condition is None:
                return s, True
            if s.holds(value):
                return s, not (i == 1 and s.condition == ("<", 0.0))
        return None, True
    if len(sections) == 1 or value > 0 or (value == 0 and len(sections) == 2):
        return sections[0], True
    if value < 0:
        return sections[1], False
    return sections[2], True


def _decimal(value: float) -> Decimal:
    """The number as Excel holds it: 15 significant digits."""
    return Decimal(f"{value:.15g}") if value else Decimal(0)


def _general(value: float) -> str:
    """Excel's General format, as TEXT writes it: at most 11 characters."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    value = abs(value)
    if 1e-9 <= value < 1e11:
        digits = len(str(int(value))) if value >= 1 else 1
        places = max(0, 10 - digits)
        text = f"{_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return sign + text
    mantissa, exponent = f"{value:.5E}".split("E")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exponent = int(exponent)
    return f"{sign}{mantissa}E{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _number(value: float, tokens: list[tuple]) -> str:
    if any(t[0] == "general" for t in tokens):
        general = _general(value)
        return "".join(general if t[0] == "general" else t[1] if t[0] == "lit" else _plain(t) for t in tokens)
    if not any(t[0] == "digit" for t in tokens):
        return "".join(t[1] if t[0] == "lit" else _plain(t) if t[0] != "digit" else "" for t in tokens)
    tokens = list(tokens)
    exp_at = next((i for i, t in enumerate(tokens) if t[0] == "exp"), None)
    mantissa_tokens = tokens if exp_at is None else tokens[:exp_at]
    point_at = next((i for i, t in enumerate(mantissa_tokens) if t[0] == "point"), None)
    digit_at = [i for i, t in enumerate(mantissa_tokens) if t[0] == "digit"]
    last_digit = digit_at[-1]

    # Commas: after a placeholder (or another such comma) they are never written; between two
    # placeholders they group the thousands; after the last placeholder they divide by 1 000.
    hidden, grouping, scale = set(), False, 0
    for i, t in enumerate(mantissa_tokens):
        if t[0] != "comma":
            continue
        before = mantissa_tokens[i - 1] if i else None
        if before is not None and (before[0] == "digit" or (i - 1) in hidden):
            hidden.add(i)
            after = mantissa_tokens[i + 1] if i + 1 < len(mantissa_tokens) else None
            if i > last_digit:
                scale += 1
            elif after is not None and after[0] == "digit" and (point_at is None or i < point_at):
                grouping = True
    percents = sum(1 for t in tokens if t[0] == "percent")
    number = _decimal(value) * Decimal(100) ** percents / Decimal(1000) ** scale

    int_places = [i for i in digit_at if point_at is None or i < point_at]
    dec_places = [i for i in digit_at if point_at is not None and i > point_at]

    exponent_text = ""
    if exp_at is not None:
        number, exponent = _scientific(number, len(int_places), "#" in (tokens[i][1] for i in int_places),
                                       len(dec_places))
        exp_digits = [t for t in tokens[exp_at + 1:] if t[0] == "digit"]
        sign = "-" if exponent < 0 else ("+" if tokens[exp_at][1] == "+" else "")
        exponent_text = "E" + sign + str(abs(exponent)).rjust(sum(1 for t in exp_digits if t[1] == "0"), "0")

    rounded = number.quantize(Decimal(1).scaleb(-len(dec_places)), rounding=ROUND_HALF_UP)
    whole, _, fraction = f"{rounded:f}".partition(".")
    whole = whole.lstrip("-").lstrip("0")

    out = [t[1] if t[0] == "lit" else "" for t in mantissa_tokens]
    for i, t in enumerate(mantissa_tokens):
        if t[0] == "point":
            out[i] = "."
        elif t[0] == "percent":
            out[i] = "%"
        elif t[0] == "comma" and i not in hidden:
            out[i] = ","
        elif t[0] == "slash":
            out[i] = "/"
    _place_whole(out, mantissa_tokens, int_places, whole, grouping, point_at)
    significant = fraction.rstrip("0")
    for k, i in enumerate(dec_places):
        ph = mantissa_tokens[i][1]
        out[i] = significant[k] if k < len(significant) else {"0": "0", "#": "", "?": " "}[ph]
    if exp_at is not None:
        rest = [t[1] if t[0] == "lit" else _plain(t) if t[0] not in ("digit",) else "" for t in tokens[exp_at + 1:]]
        return "".join(out) + exponent_text + "".join(rest)
    return "".join(out)


def _place_whole(out, tokens, places, whole, grouping, point_at) -> None:
    """The digits of the whole part put in its placeholders, right to left, one each: the
    leftmost takes all the digits left over; a placeholder past the digits writes 0 for "0",
    a space for "?", nothing for "#". Thousands separators follow every third digit written."""
    if not places:
        if whole:  # no placeholder before the point: the digits are written just before it
            at = point_at if point_at is not None else 0
            out[at] = whole + out[at]
        return
    n, count = len(places), len(whole)
    pad = {"0": "0", "#": "", "?": " "}
    written = 0
    for k in range(n):  # k-th placeholder from the right
        index = n - 1 - k
        if index == 0 and count > k:
            chars = whole[:count - k]
        elif k < count:
            chars = whole[count - 1 - k]
        else:
            chars = pad[tokens[places[index]][1]]
        text = ""
        for ch in reversed(chars):
            if ch.isdigit():
                if grouping and written and written % 3 == 0:
                    ch += ","
                written += 1
            text = ch + text
        out[places[index]] = text


def _scientific(number: Decimal, int_count: int, engineering: bool, decimals: int) -> tuple[Decimal, int]:
    if number == 0:
        return number, 0
    int_count = max(int_count, 1)
    magnitude = math.floor(math.log10(float(number)))
    if engineering and int_count > 1:
        exponent = magnitude - magnitude % int_count
    else:
        exponent = magnitude - (int_count - 1)
    mantissa = number.scaleb(-exponent)
    if mantissa.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP) >= Decimal(10) ** int_count:
        exponent += int_count if engineering and int_count > 1 else 1
        mantissa = number.scaleb(-exponent)
    return mantissa, exponent


def _calendar(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a serial day on Excel's calendar, with its 29 February 1900."""
    if days == 0:
        return 1900, 1, 0
    if days == 60:
        return 1900, 2, 29
    date = dt.date(1899, 12, 31 if days < 60 else 30) + dt.timedelta(days=days)
    return date.year, date.month, date.day


def _date(value: float, tokens: list[tuple]) -> str:
    elapsed_only = all(t[0] in ("elapsed", "lit") for t in tokens)
    if value >= _MAX_SERIAL and not elapsed_only:
        raise FormatRefused("date trop grande")
    # fractions of a second written: the time is rounded to them (else to the second)
    places = 0
    for i, t in enumerate(tokens):
        if t[0] == "point" and i and tokens[i - 1][0] in ("date", "elapsed") and tokens[i - 1][1] == "s":
            places = max(places, sum(1 for u in tokens[i + 1:i + 4] if u[0] == "digit"))
    unit = 10 ** places
    ticks = int((Decimal(repr(value)) * 86400 * unit).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    days, ticks_of_day = divmod(ticks, 86400 * unit)
    seconds_of_day, fraction = divmod(ticks_of_day, unit)
    hour, rest = divmod(seconds_of_day, 3600)
    minute, second = divmod(rest, 60)
    # an elapsed time alone may pass the last date (no calendar then)
    year, month, day = _calendar(days) if days < _MAX_SERIAL else (0, 1, 1)
    weekday = (days + 6) % 7
    twelve = any(t[0] == "ampm" for t in tokens)

    # m is minutes when it follows an hour or comes before a second (other tokens in between)
    dated = [i for i, t in enumerate(tokens) if t[0] in ("date", "elapsed")]
    minutes = set()
    for k, i in enumerate(dated):
        t = tokens[i]
        if t[0] == "date" and t[1] == "m" and t[2] <= 2:
            before = tokens[dated[k - 1]] if k else None
            after = tokens[dated[k + 1]] if k + 1 < len(dated) else None
            if (before is not None and before[1] == "h") or (after is not None and after[1] == "s"):
                minutes.add(i)

    total_seconds = ticks // unit
    out = []
    skip = set()
    for i, t in enumerate(tokens):
        if i in skip:
            continue
        kind = t[0]
        if kind == "lit":
            out.append(t[1])
        elif kind == "elapsed":
            count = {"h": total_seconds // 3600, "m": total_seconds // 60, "s": total_seconds}[t[1]]
            out.append(str(count).rjust(t[2], "0"))
        elif kind == "ampm":
            pm = hour >= 12
            if t[1] == "AM/PM":
                out.append("PM" if pm else "AM")
            else:
                a, p = t[1][0], t[1][2]
                out.append(p if pm else a)
        elif kind == "date":
            letter, count = t[1], t[2]
            if letter == "y":
                out.append(f"{year % 100:02d}" if count <= 2 else f"{year:04d}")
            elif letter == "m" and i in minutes:
                out.append(f"{minute:02d}" if count == 2 else str(minute))
            elif letter == "m":
                out.append({1: str(month), 2: f"{month:02d}", 3: _MONTHS[month - 1][:3], 5: _MONTHS[month - 1][0]}
                           .get(count, _MONTHS[month - 1]))
            elif letter == "d":
                out.append({1: str(day), 2: f"{day:02d}", 3: _DAYS[weekday][:3]}.get(count, _DAYS[weekday]))
            elif letter == "h":
                h = hour % 12 or 12 if twelve else hour
                out.append(str(h) if count == 1 else f"{h:02d}")
            elif letter == "s":
                out.append(str(second) if count == 1 else f"{second:02d}")
        elif kind == "point":
            digits = []
            for u in tokens[i + 1:]:
                if u[0] != "digit":
                    break
                digits.append(u)
            if digits and i and tokens[i - 1][0] in ("date", "elapsed") and tokens[i - 1][1] == "s":
                written = str(fraction).rjust(places, "0")[:len(digits)] if places else ""
                out.append("." + written.ljust(len(digits), "0"))
                skip.update(range(i + 1, i + 1 + len(digits)))
            else:
                out.append(".")
        else:
            out.append(_plain(t))
    return "".join(out)


# --------------------------------------------------------------------------- reading a text

_TIME = re.compile(r"\s*(\d+):(\d+)(?::(\d+))?(\.\d*)?\s*", re.ASCII)


def number_from_text(text: str) -> float | None:
    """The number a text stands for in TEXT, as Excel reads it: a number, or a time written
    h:m[:s] (hours under 24, minutes under 60 when seconds follow, seconds under 10 000) or
    m:s.fraction; None for any other text (dates are read by the caller)."""
    try:
        return float(text)
    except ValueError:
        pass
    m = _TIME.fullmatch(text)
    if m is None:
        return None
    a, b, c, fraction = m.group(1), m.group(2), m.group(3), m.group(4)
    a, b = int(a), int(b)
    if c is not None:  # h:m:s[.f]
        c = int(c)
        if a >= 24 or b >= 60 or c >= 10000:
            return None
        return (a * 3600 + b * 60 + c + float(fraction or 0) if fraction not in (None, ".") else a * 3600 + b * 60 + c) / 86400
    if fraction is not None and fraction != ".":  # m:s.f
        if a >= 60 or b >= 10000:
            return None
        return (a * 60 + b + float(fraction)) / 86400
    if a >= 24 or b >= 10000:  # h:m
        return None
    return (a * 3600 + b * 60) / 86400
