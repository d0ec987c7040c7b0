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
