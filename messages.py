"""Text for people that is written outside the web layer (insights/, services/, models.py), marked for
translation without Flask: `N_` marks a message id for pybabel's extraction (babel.cfg), and a `Phrase` carries
that id with its parameters. A Phrase *is* the English text, as a plain `str`, so the API's JSON, exports and logs
stay in English; the web layer shows it in the reader's language (web/i18n.py `say`)."""

from __future__ import annotations


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
