"""Where a page may send the browser back to: only paths on this site, never another one (open redirects); where a
GET of a form's address goes (the page the form lives on)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import parse_qsl, urlsplit

from flask import Response, redirect, request, url_for
from flask.typing import ResponseReturnValue


def same_site_path(target: str | None) -> str | None:
    """`target` if it is a path on this site ("/analyses/3#face-1"), else None: no scheme or host, no
    protocol-relative "//host" (nor "/\\host", which browsers read the same), no control characters."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(char) < 32 or char == "\\" for char in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def came_from_path() -> str | None:
    """The same-site path the request's `next` names (the page a link or form was sent from, kept safe), else None."""
    return same_site_path(request.values.get("next"))


def on_page(path: str | None, page: str) -> bool:
    """Whether `path` is `page` itself, with any query (a list's filters, its page number)."""
    return bool(path) and urlsplit(path).path == urlsplit(page).path


def place_on(path: str | None, page: str) -> str:
    """`path` if it is `page` (`on_page`), else `page`: where a deletion or a "back" link goes when it must be that
    list, kept as the user left it."""
    return path if path is not None and on_page(path, page) else page


def next_of(path: str | None) -> str | None:
    """The same-site `next` in `path`'s own query (the page a page of it was opened from), else None."""
    return same_site_path(dict(parse_qsl(urlsplit(path or "").query)).get("next"))


def back_to_form_next() -> Response:
    """A 303 to the same-site page the posted form's `next` names (the one it was sent from), else the start page."""
    return redirect(same_site_path(request.form.get("next")) or url_for("analyze.index"), code=303)


def page_path() -> str:
    """The same-site path of the page the browser shows, for the forms that come back to it (the language and
    time-zone switches) and for the log-in page's `next`: a GET's own; for a posted form (a refused one shown
    again, or one sent after the session ended), the page it was sent from, since the form's address is not a page
    of its own; else the start page."""
    if request.method in ("GET", "HEAD"):
        return request.full_path.rstrip("?")
    sent_from = urlsplit(request.referrer or "")
    if sent_from.netloc == request.host:
        path = same_site_path(sent_from.path + (f"?{sent_from.query}" if sent_from.query else ""))
        if path:
            return path
    return url_for("analyze.index")


View = Callable[..., ResponseReturnValue]


def form_page(page: Callable[..., str]) -> Callable[[View], View]:
    """For the address a form posts to (routed for GET and POST): a GET of it (and HEAD with it), as when a refused
    form's page is reloaded or the address is opened or shared, is a redirect to the page the form lives on,
    `page(**view_args)`, which raises NotFound for what the user may not see, as the POST would; never a 405."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args, **kwargs):
            if request.method != "POST":
                return redirect(page(**kwargs))
            return view(*args, **kwargs)

        return wrapper

    return decorate


def start_page() -> str:
    """The page of the forms that every page has (the header's log-out, language and time-zone switches)."""
    return url_for("analyze.index")
