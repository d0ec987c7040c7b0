"""What bounds the memory uploads can take: no hostile file under the size limits raises a process's peak memory by
more than 300 MB (each measured in a fresh process, C allocations included), uploads per user are rate-limited,
and photos are decoded a bounded number at a time."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bench.fixtures import csrf_token, login, make_app, make_user
from bench.upload_memory import BUDGET_MB, CASES, measure
from inference.errors import MediaTooLarge
from services import analyses
from services.analyses import analysis_slot
from services.slots import AnalysisSlots
from tests.conftest import upload


@pytest.mark.parametrize("name", ["16-bit gray PNG 6320x6320", "RGBA PNG 6320x6320", "MJPEG AVI 12000x12000",
                                  "crowd photo, 256 faces", "RGBA PNG 19999999x2",
                                  "progressive 6300x6300 turned, APP5", "progressive JPEG 5770x5770"])
def test_a_hostile_upload_raises_peak_memory_by_less_than_the_budget(name):
    build, filename = CASES[name]
    result = measure(build(), filename)
    assert result["status"] in (201, 413), result
    assert result["growth_mb"] < BUDGET_MB, result


@pytest.mark.parametrize(("name", "status"), [("PNG, 64 MB of emoji text", 413), ("PNG, 9 MB orientation", 201)])
def test_a_small_png_costs_little_whatever_its_metadata(name, status):
    """A 600x400 PNG costs nothing measurable after a first photo; with text chunks of emoji (Pillow decoded 64 M
    characters of them: +204 MB; refused now) or an orientation of a million fractions (+133 MB; read upright now),
    no more than 30 MB."""
    build, filename = CASES[name]
    result = measure(build(), filename)
    assert result["status"] == status, result
    assert result["growth_mb"] < 30, result


def test_a_photo_turned_by_its_exif_orientation_costs_no_second_copy():
    """A 5000x8000 photo to be turned a quarter (orientation 6) cost 120 MB more than the same photo upright (+335
    against +213 MB): its pixels were turned into a second array while the first was alive."""
    upright, turned = (measure(CASES[name][0](), "photo.jpg")
                       for name in ("JPEG 5000x8000", "JPEG 5000x8000, orientation 6"))
    assert upright["status"] == turned["status"] == 201, (upright, turned)
    assert turned["growth_mb"] < upright["growth_mb"] + 40, (upright, turned)


def logged_in_clients(app, *names: str) -> list:
    """A logged-in test client for each new user of these names."""
    clients = []
    for name in names:
        make_user(app, name)
        clients.append(app.test_client())
        login(clients[-1], name)
    return clients


def test_uploads_are_limited_per_user_on_the_form_and_the_api_together(tmp_path):
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, UPLOAD_LIMITS="3 per minute")
    alice, bob = logged_in_clients(app, "alice", "bob")
    not_an_image = b"<html>not an image</html>"
    assert [upload(alice, not_an_image).status_code for _ in range(2)] == [415, 415]
    api = {"X-CSRFToken": csrf_token(alice, "/analyze")}
    assert alice.post("/api/v1/analyses", headers=api,
                      data={"file": (io.BytesIO(not_an_image), "x.jpg")}).status_code == 415
    refused = alice.post("/api/v1/analyses", headers=api, data={"file": (io.BytesIO(not_an_image), "x.jpg")})
    assert refused.status_code == 429 and "Too many uploads" in refused.get_json()["error"]
    assert upload(alice, not_an_image).status_code == 429
    assert alice.get("/analyze").status_code == 200  # only uploads count
    assert upload(bob, not_an_image).status_code == 415  # another user has their own allowance


def test_crops_and_frames_are_limited_per_user_together(tmp_path, astronaut_jpeg):
    """Each decodes the stored photo or video again: one account asking for them without end held the slots."""
    app = make_app(tmp_path, RATELIMIT_ENABLED=True, DECODE_LIMITS="3 per minute")
    alice, bob = logged_in_clients(app, "alice", "bob")
    crop = upload(alice, astronaut_jpeg).location + "/detections/1/crop.jpg"
    assert [alice.get(crop).status_code for _ in range(3)] == [200, 200, 200]
    refused = alice.get(crop)
    assert refused.status_code == 429 and "Too many images" in refused.get_data(as_text=True)
    assert alice.get(crop.rsplit("/detections", 1)[0]).status_code == 200  # the page itself is not counted
    bob_crop = upload(bob, astronaut_jpeg).location + "/detections/1/crop.jpg"
    assert bob.get(bob_crop).status_code == 200  # another user has their own allowance


@contextmanager
def slot_held_elsewhere(app, user_id: int | None = None) -> Iterator[None]:
    """While the block runs, another thread holds an analysis slot (for `user_id`), as a slow request would."""
    held, release = threading.Event(), threading.Event()

    def hold():
        with app.app_context(), analysis_slot(user_id):
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        held.wait(30)
        yield
    finally:
        release.set()
        holder.join()


def test_a_request_waiting_for_a_slot_holds_no_database_connection(app, alice):
    """The frames of a few video pages opened in a row waited for the two frame slots holding a pooled connection
    each: the pool ran dry, and every other page waited 30 s for one (503). What was read stays read; a session with
    something to write keeps it, unwritten."""
    from extensions import db
    from models import User

    with app.app_context():
        pool = db.engine.pool
        user = db.session.get(User, alice)
        assert pool.checkedout() == 1
        with analysis_slot(alice):
            assert pool.checkedout() == 0 and vars(user)["username"] == "alice"  # not expired: no query to read it
        user.locale = "ko"
        db.session.scalars(db.select(User.id)).all()
        with analysis_slot(alice):
            assert pool.checkedout() == 1
        db.session.rollback()
        assert db.session.get(User, alice).locale is None
        for held in (db.update(User).values(locale="ko"), db.select(User).with_for_update()):  # past the unit of work
            db.session.execute(held)
            with analysis_slot(alice):
                assert pool.checkedout() == 1
            db.session.rollback()
        assert db.session.get(User, alice).locale is None


def test_photos_wait_for_a_free_analysis_slot_and_are_refused_when_none_frees_up(tmp_path, coffee_jpeg):
    app = make_app(tmp_path, ANALYSIS_CONCURRENCY=1, ANALYSIS_WAIT_SECONDS=0.5)
    make_user(app, "alice")
    client = app.test_client()
    login(client, "alice")
    with slot_held_elsewhere(app):
        busy = upload(client, coffee_jpeg)
        assert busy.status_code == 429 and "busy analysing other uploads" in busy.get_data(as_text=True)
    assert upload(client, coffee_jpeg).status_code == 302


def test_one_user_never_holds_every_analysis_slot(tmp_path, coffee_jpeg):
    """A user's slow requests (a long video's last frames took seconds each) leave a slot for everyone else."""
    app = make_app(tmp_path, ANALYSIS_CONCURRENCY=2, ANALYSIS_WAIT_SECONDS=0.5)
    alice_id = make_user(app, "alice")
    make_user(app, "bob")
    alice, bob = app.test_client(), app.test_client()
    login(alice, "alice")
    login(bob, "bob")
    with slot_held_elsewhere(app, alice_id):
        assert upload(alice, coffee_jpeg).status_code == 429  # her own second request waits for her first
        assert upload(bob, coffee_jpeg).status_code == 302  # the other slot is free for Bob
    assert upload(alice, coffee_jpeg).status_code == 302


def test_analysis_slots_forget_a_user_who_holds_none_and_wake_a_waiting_request():
    slots = AnalysisSlots(total=2, per_user=1)
    assert slots.acquire(7, timeout=0) and not slots.acquire(7, timeout=0)  # one per user
    assert slots.acquire(None, timeout=0) and not slots.acquire(8, timeout=0)  # all taken
    woke = []
    waiter = threading.Thread(target=lambda: woke.append((slots.acquire(8, timeout=10), time.monotonic())))
    waiter.start()
    while not slots._changed._waiters:  # until the request waits
        time.sleep(0.01)
    released = time.monotonic()
    slots.release(7)
    waiter.join(10)
    assert woke[0][0] and woke[0][1] - released < 5 and slots.held() == 2  # woken, not timed out
    slots.release(8)
    slots.release(None)
    assert slots.held() == 0 and not slots._held_by_user  # nothing kept for users with no request in flight


class WholeReadRefused(io.BytesIO):
    """An upload's stream that may be read in pieces (the hash, the type sniffed) but never whole into memory."""

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and size >= 0, "the whole upload was read into memory"
        return super().read(size)


def test_a_photo_over_the_size_limit_is_refused_before_it_is_read_whole(tmp_path):
    """A "photo" of 99 MB (within the request limit, which videos need) cost a web process its size twice over before
    the photo limit refused it."""
    from werkzeug.datastructures import FileStorage
    from extensions import db
    from inference.errors import MediaTooLarge
    from models import User
    from services.analyses import accept_upload

    app = make_app(tmp_path, MAX_UPLOAD_MB=1)
    make_user(app, "alice")
    content = b"\xff\xd8\xff\xe0" + bytes(2 * 1024 * 1024)
    with app.app_context(), pytest.raises(MediaTooLarge, match="limited to 1 MB"):
        accept_upload(db.session.scalar(db.select(User)), FileStorage(WholeReadRefused(content), "big.jpg"))


def test_the_photo_limit_is_exactly_max_upload_mb(app):
    """Mutant 16 (a photo 1 KB over the limit passed): the limit's edge, byte for byte."""
    with app.app_context():
        limit = app.config["MAX_UPLOAD_MB"] * 1024 * 1024
        analyses.check_photo_size(limit)
        with pytest.raises(MediaTooLarge):
            analyses.check_photo_size(limit + 1)


def test_flask_analyze_refuses_a_video_over_max_video_mb(app, two_face_video):
    """Mutant 17 (video size check gone): `flask analyze` (no request limit in front of it) analysed any size."""
    app.config["MAX_VIDEO_MB"] = two_face_video.stat().st_size / 2 / 1024 / 1024
    with app.app_context(), pytest.raises(MediaTooLarge, match="Videos are limited"):
        analyses.analyze_file(two_face_video)
