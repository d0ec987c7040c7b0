"""Downloads written while they are sent (the exports): named as RFC 6266 asks and kept out of every cache."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from urllib.parse import quote

from flask import Response, stream_with_context


def download_names(name: str) -> dict[str, str]:
    """Content-Disposition's file name parameters: the name when it is ASCII, else an ASCII fallback and the name in
    UTF-8 (RFC 6266), as Flask's send_file writes them."""
    try:
        name.encode("ascii")
    except UnicodeEncodeError:
        fallback = _dashes_closed(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii"))
        return {"filename": fallback, "filename*": "UTF-8''" + quote(name, safe="!#$&+^`|~")}
    return {"filename": name}


def _dashes_closed(name: str) -> str:
    """An ASCII fallback without the runs of dashes a dropped script leaves ("moodlens--history.csv" for
    "moodlens-모모-history.csv": "moodlens-history.csv")."""
    return re.sub(r"-+(?=[.])", "", re.sub(r"-{2,}", "-", name))


def streamed_download(chunks: Iterable[bytes], mimetype: str, filename: str) -> Response:
    """An attachment named `filename` (any script: "모모" with an ASCII fallback) whose body is `chunks`, sent as
    they come, in the request's context (the exports read the database while they are sent); never stored by a
    cache, as it is the user's own data."""
    response = Response(stream_with_context(chunks), mimetype=mimetype, headers={"Cache-Control": "no-store"})
    response.headers.set("Content-Disposition", "attachment", **download_names(filename))
    return response
