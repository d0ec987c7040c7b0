"""The ids in the app's addresses are ASCII digits: Werkzeug's `int` converter matched any Unicode digit, so
/analyses/١ (an Arabic-Indic one) and /analyses/𝟏 were analysis 1 too, and DELETE /api/v1/tokens/٦٩ revoked token 69
(services/access.row_id reads ids in query strings and forms the same way)."""

from flask import Flask
from werkzeug.routing import IntegerConverter


class AsciiIntegerConverter(IntegerConverter):
    """`<int:...>` in ASCII digits only."""

    regex = r"[0-9]+"


def init_app(app: Flask) -> None:
    """Every `<int:...>` of the app's addresses reads ASCII digits; call before any blueprint is registered."""
    app.url_map.converters["int"] = AsciiIntegerConverter


def whole_number(text: str) -> int:
    """`text` as a whole number in ASCII digits, with a minus before it or not, for `request.args.get(..., type=)`:
    ValueError otherwise (the default then), as int() gives for "x"; int() also read "٣", "３", " 3" and "3_0"."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"not a whole number: {text[:20]!r}")
    return int(text)
