"""Copies sent at the same moment: two requests with the same bytes, both past their first look before either stored
anything, make one analysis; the second waits for the first one's insert (access.hold_account) and answers with it."""

from __future__ import annotations

import threading

from extensions import db
from models import Analysis
from services import analyses, copies
from tests.conftest import upload_files
from tests.test_api import bearer, post_file

WAIT_SECONDS = 3  # how long the first request lets the second one run before it stores its own


def test_the_same_bytes_sent_twice_at_the_same_moment_are_stored_once(app, client, alice, astronaut_jpeg,
                                                                     monkeypatch):
    headers = bearer(client, "alice")
    look = copies.earlier_upload
    second_answer: list = []
    second_done = threading.Event()
    first_thread = threading.get_ident()
    looks_of_first = []

    def send_the_second() -> None:
        try:
            second_answer.append(post_file(app.test_client(), headers, astronaut_jpeg, "second.jpg"))
        finally:
            second_done.set()

    def last_look_lets_the_second_run(user_id: int, digest: str):
        """The first request's last look, which finds nothing: before the first request stores its own, the second
        request runs as far as it can."""
        found = look(user_id, digest)
        if threading.get_ident() == first_thread:
            looks_of_first.append(digest)
            if len(looks_of_first) == 2:
                threading.Thread(target=send_the_second, daemon=True).start()
                second_done.wait(WAIT_SECONDS)
        return found

    analyze = analyses.analyze_photo
    results: list = []

    def analyse_once(data: bytes, user_id: int | None = None):
        """The second request gets the first one's result at once: it is not slowed down by the models."""
        if not results:
            results.append(analyze(data, user_id))
        return results[0]

    monkeypatch.setattr(analyses, "analyze_photo", analyse_once)
    monkeypatch.setattr(copies, "earlier_upload", last_look_lets_the_second_run)
    first = post_file(client, headers, astronaut_jpeg, "first.jpg")
    assert second_done.wait(60)
    second = second_answer[0]
    assert (first.status_code, first.json["duplicate"]) == (201, False)
    assert (second.status_code, second.json["duplicate"], second.json["id"]) == (200, True, first.json["id"])
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 1
    assert len(upload_files(app)) == 2  # the first one's upload and thumbnail; the second's went
