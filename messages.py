"""Text for people that is written outside the web layer (insights/, services/, models.py), marked for
translation without Flask: `N_` marks a message id for pybabel's extraction (babel.cfg), and a `Phrase` carries
that id with its parameters. A Phrase *is* the English text, as a plain `str`, so the API's JSON, exports and logs
stay in English; the web layer shows it in the reader's language (web/i18n.py `say`)."""

from __future__ import annotations

import unicodedata


def N_(msgid: str) -> str:  # noqa: N802 (the name pybabel looks for)
    """Mark `msgid` for extraction; it stays as it is here."""
    return msgid


class Phrase(str):
    """The English sentence `msgid % params`, remembering `msgid` and `params` for translation. Parameters that
    are emotion ids ("sad") or Phrases are translated with it."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, **params: object) -> Phrase:
        phrase = super().__new__(cls, msgid % params if params else msgid)
        phrase.msgid, phrase.params = msgid, params
        return phrase


def name_order(name: str) -> tuple[str, str]:
    """Where a name goes in a list people read: its letters without case or accents ("bella" before "BOB", "Émile"
    beside "Emma"; Hangul keeps its order), then the name itself to break ties."""
    letters = "".join(char for char in unicodedata.normalize("NFKD", name) if not unicodedata.combining(char))
    return letters.casefold(), name
