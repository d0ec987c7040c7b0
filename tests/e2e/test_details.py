"""In Chromium, in English and Korean, at 1280 and 390 px: an unsure reading says why on the photo page and "unsure,
perhaps ..." on the player's overlay; the overlay draws the boxes of one analysed frame, and its labels keep off the
video's control bar, each other and the other boxes; a "Why?" that fails is told in the page's language, never in
the API's English; the admin's column headers follow the interface language; a video's spoken progress follows its
bar. Screenshots go to artifacts/e2e/ (details-*.png)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
from PIL import Image
from skimage import data as skdata

from playwright.sync_api import Page, expect

import jobs
from bench.clips import another_copy, moving_faces_frames, write_video
from bench.fixtures import login, make_user
from extensions import db
from models import Analysis, Detection, JobStatus, SignatureJob, Subject, User
from services import identity
from tests.conftest import early_face_frames, jpeg_bytes, upload
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.test_layout import VIEWPORTS, wait_for_signatures, wait_until_done

EXPLANATION_API = "**/api/v1/analyses/*/detections/*/explanation"


def log_in(browser, base: str, name: str, locale: str, viewport: str) -> Page:
    context = browser.new_context(viewport=VIEWPORTS[viewport], locale=locale)
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda error: page.console_errors.append(str(error)))
    page.goto(base + "/login")
    page.fill("#username", name)
    page.fill("#password", "correct horse")
    page.click("input[type=submit]")
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"details-{name}.png"), full_page=True)
    assert page.evaluate("() => document.documentElement.scrollWidth <= Math.min(innerWidth, "  # a phone's innerWidth
                         "document.documentElement.clientWidth)"), f"{name} scrolls"  # grows with the page


def unsure_photo_and_clip(app, astronaut, tmp_path) -> tuple[int, int]:
    """Dana's photo whose face reading was weak and split, and a clip whose first face was unsure from 1 s on."""
    make_user(app, "dana")
    client = app.test_client()
    login(client, "dana")
    photo = int(upload(client, jpeg_bytes(astronaut), "astronaut.jpg").location.rsplit("/", 1)[1])
    clip = write_video(tmp_path / "clip.mp4", moving_faces_frames(astronaut, 30, faces=2))
    video = int(upload(client, clip.read_bytes(), "clip.mp4").location.rsplit("/", 1)[1])
    wait_until_done(app, video)
    with app.app_context():
        face = db.session.get(Analysis, photo).detections[0]
        face.emotions = {label: 0.38 if label == "happy" else 0.31 if label == "neutral" else 0.062
                         for label in face.emotions}  # as a weak reading is: flat
        face.uncertain, face.uncertainty, face.unsure_signals = True, 0.62, ["weak", "members_disagree"]
        track = db.session.scalars(db.select(Detection).filter_by(analysis_id=video).order_by(Detection.track_id)
                                   ).first()
        track.timeline = [{**point, "uncertain": point["t"] >= 1.0} for point in track.timeline]
        db.session.commit()
    return photo, video


def overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]


def test_unsure_readings_say_why_and_the_overlay_says_unsure(live_app, browser, astronaut, tmp_path):
    app, base = live_app
    photo, video = unsure_photo_and_clip(app, astronaut, tmp_path)
    words = {"en": ("chance that this reading is wrong is 62%", "1: unsure, perhaps "),
             "ko": ("틀렸을 추정 확률: 62%", "1: 확실하지 않음, 어쩌면 ")}
    for locale, (why, label) in words.items():
        for viewport in VIEWPORTS:
            page = log_in(browser, base, "dana", locale, viewport)
            page.goto(f"{base}/analyses/{photo}")
            expect(page.locator("#face-1 .comment")).to_contain_text(why)
            shot(page, f"unsure-photo-{locale}-{viewport}")
            page.goto(f"{base}/analyses/{video}")
            page.locator("a[data-t='2.00']").first.click()  # the script draws the overlay at 2 s
            expect(page.locator(".overlay text").first).to_have_text(re.compile("^" + label))
            expect(page.locator(".overlay text").nth(1)).not_to_contain_text(label[3:])
            page.locator("a[data-t='0.00']").first.click()
            expect(page.locator(".overlay text").first).not_to_contain_text(label[3:])  # sure before 1 s
            page.locator("a[data-t='2.00']").first.click()
            labels = [page.locator(".overlay text").nth(n).bounding_box() for n in range(2)]
            assert not overlap(*labels), labels  # a long label is moved off its neighbour's
            page.wait_for_function("() => { const f = document.getElementById('scrub-frame');"
                                   " return f.src.endsWith('t=2.00') && f.complete && f.naturalWidth > 0; }")
            page.locator("#player").scroll_into_view_if_needed()
            shot(page, f"unsure-video-{locale}-{viewport}")
            assert page.console_errors == []
            page.context.close()


def analysed_clip(app, name: str, clip) -> int:
    """A new user `name` (password "correct horse") and the id of their upload of `clip`, analysed."""
    make_user(app, name)
    client = app.test_client()
    login(client, name)
    video = int(upload(client, clip.read_bytes(), clip.name).location.rsplit("/", 1)[1])
    wait_until_done(app, video)
    return video


def test_a_long_label_on_a_box_at_the_right_edge_stays_in_the_frame(live_app, browser, astronaut, tmp_path):
    """The third face sits at the frame's right edge and its reading is weak: "3: 확실하지 않음, 어쩌면 행복" is
    longer than the room right of its box on a phone, with scripts (the player) and without (the server)."""
    app, base = live_app
    video = analysed_clip(app, "erin", write_video(tmp_path / "three.mp4", moving_faces_frames(astronaut, 30, faces=3)))
    with app.app_context():
        track = db.session.scalars(db.select(Detection).filter_by(analysis_id=video).order_by(Detection.x2.desc())
                                   ).first()
        track.timeline = [{**point, "uncertain": True} for point in track.timeline]
        db.session.commit()
    inside = ("room => { const frame = document.querySelector('.overlay').getBoundingClientRect();"
              " return [...document.querySelectorAll('.overlay text')].map(t => t.getBoundingClientRect())"
              ".every(b => b.left >= frame.left + room && b.right <= frame.right - room"
              " && b.top >= frame.top + room && b.bottom <= frame.bottom - room); }")
    for scripts in (True, False):
        context = browser.new_context(viewport=VIEWPORTS["phone"], locale="ko", java_script_enabled=scripts)
        page = context.new_page()
        page.goto(base + "/login")
        page.fill("#username", "erin")
        page.fill("#password", "correct horse")
        page.click("input[type=submit]")
        page.goto(f"{base}/analyses/{video}?t=2#player")
        expect(page.locator(".overlay text", has_text="확실하지 않음, 어쩌면")).to_have_count(1)
        assert page.evaluate(inside, 3 if scripts else -1), "a label runs off the frame"  # the script: its outline too
        if scripts:  # a narrower player (a phone turned, a window made smaller): the labels are fitted again
            page.set_viewport_size({"width": 300, "height": 800})
            page.wait_for_function(inside, arg=3)
        page.locator("#player").scroll_into_view_if_needed()
        shot(page, f"right-edge-label-{'script' if scripts else 'server'}")
        context.close()


CONTROL_BAR_PX = 60  # Chromium's: its buttons and time 44 to 56 px above the video's bottom, its timeline under them


def test_labels_keep_off_the_video_controls_each_other_and_the_other_box(live_app, browser, astronaut, tmp_path):
    """A close-up from the frame's top edge nearly to its bottom (no room for its label under it) and a face low in
    the frame (its label above it would sit on the control bar): at 1280 and 390 px, with the video's own controls
    shown, each label stays inside the video, above its control bar, off the other label and off the other box."""
    app, base = live_app
    clip = write_video(tmp_path / "two.webm", moving_faces_frames(astronaut, 30, faces=2), codec="VP80")
    video = analysed_clip(app, "gus", clip)
    with app.app_context():
        close, low = db.session.scalars(db.select(Detection).filter_by(analysis_id=video).order_by(Detection.x1))
        close.timeline = [{**point, "box": [point["box"][0], 8, point["box"][2], 352]} for point in close.timeline]
        low.timeline = [{**point, "box": [point["box"][0], 310, point["box"][2], 352]} for point in low.timeline]
        db.session.commit()
    for viewport in VIEWPORTS:
        page = log_in(browser, base, "gus", "en", viewport)
        page.goto(f"{base}/analyses/{video}")
        player = page.locator(".stage video")
        expect(player).to_be_visible(timeout=20_000)
        page.locator("a[data-t='2.00']").first.click()
        expect(page.locator(".overlay text")).to_have_count(2)
        page.wait_for_function("() => !document.querySelector('.stage video').seeking")
        page.locator("#player").scroll_into_view_if_needed()
        shot(page, f"labels-off-controls-{viewport}")
        frame = player.bounding_box()
        labels = [text.bounding_box() for text in page.locator(".overlay text").all()]
        boxes = [rect.bounding_box() for rect in page.locator(".overlay rect").all()]
        controls = {**frame, "y": frame["y"] + frame["height"] - CONTROL_BAR_PX, "height": CONTROL_BAR_PX}
        for label, other_label, other_box in zip(labels, labels[::-1], boxes[::-1]):
            assert frame["x"] <= label["x"] and label["x"] + label["width"] <= frame["x"] + frame["width"], label
            assert frame["y"] <= label["y"], (viewport, label, frame)
            assert not overlap(label, controls), (viewport, label, controls)
            assert not overlap(label, other_label) and not overlap(label, other_box), (viewport, labels, boxes)
        assert page.console_errors == []
        page.context.close()


def replying(status: int, body: dict):
    """A route handler answering with this status and JSON body, as the API would."""
    return lambda route: route.fulfill(status=status, content_type="application/json", body=json.dumps(body))


def test_a_failed_why_is_told_in_the_pages_language(live_app, browser, astronaut_jpeg):
    app, base = live_app
    make_user(app, "eun")
    client = app.test_client()
    login(client, "eun")
    photo = int(upload(client, astronaut_jpeg, "astronaut.jpg").location.rsplit("/", 1)[1])
    replies = [(409, {"error": "Nothing to explain at position 1."}, "서버가 거절했어요: 409"),
               (200, {"status": "failed", "error": "The stored photo could not be read, so it cannot be explained."},
                "저장된 사진을 읽을 수 없어서 설명할 수 없어요."),
               (200, {"status": "failed", "error": "The work was interrupted 3 times and was given up."},
                "설명 계산이 중단됐어요. 다시 시도해 주세요.")]
    for viewport in VIEWPORTS:
        page = log_in(browser, base, "eun", "ko-KR", viewport)
        page.goto(f"{base}/analyses/{photo}")
        for status, body, korean in replies:
            page.route(EXPLANATION_API, replying(status, body))
            page.locator(".why button").click()
            expect(page.locator(".why-state")).to_have_text(korean)
            expect(page.locator(".why button")).to_be_enabled()
            page.unroute(EXPLANATION_API)
        shot(page, f"why-failed-ko-{viewport}")
        page.context.close()


def test_the_admin_columns_are_korean_on_a_korean_page(live_app, browser, astronaut_jpeg):
    app, base = live_app  # the fixture made "admin"
    make_user(app, "root", admin=True)
    client = app.test_client()
    login(client, "root")
    upload(client, astronaut_jpeg, "astronaut.jpg")
    for viewport in VIEWPORTS:
        page = log_in(browser, base, "root", "ko-KR", viewport)
        page.goto(base + "/admin/admin_analyses/")
        headers = page.locator("th.column-header").all_inner_texts()
        assert "파일 이름" in headers and "주된 감정" in headers and not {"Original Name", "Top Emotion"} & set(headers)
        page.screenshot(path=str(ARTIFACTS / f"details-admin-ko-{viewport}.png"), full_page=True)
        page.context.close()


def test_the_playing_video_shows_the_boxes_of_one_analysed_frame(live_app, browser, astronaut, tmp_path):
    app, base = live_app
    make_user(app, "fay")
    client = app.test_client()
    login(client, "fay")
    clip = write_video(tmp_path / "early.webm", early_face_frames(astronaut), codec="VP80")
    video = int(upload(client, clip.read_bytes(), "early.webm").location.rsplit("/", 1)[1])
    wait_until_done(app, video)
    with app.app_context():
        early, later = [track.timeline for track in db.session.get(Analysis, video).detections][:2]
    gone, came = early[-1]["t"], later[0]["t"]
    for viewport in VIEWPORTS:
        page = log_in(browser, base, "fay", "en", viewport)
        page.goto(f"{base}/analyses/{video}")
        expect(page.locator(".stage video")).to_be_visible(timeout=20_000)
        for share, tags in ((0.4, ["1"]), (0.6, ["2", "3"])):  # as it plays past the moment the faces change
            page.evaluate("t => { document.querySelector('.stage video').currentTime = t; }",
                          gone + share * (came - gone))
            expect(page.locator(".overlay text")).to_have_count(len(tags))
            assert [text.split(":")[0] for text in page.locator(".overlay text").all_text_contents()] == tags
        page.locator("#player").scroll_into_view_if_needed()
        shot(page, f"one-frame-{viewport}")
        page.context.close()


def looks_like_eileen(app, astronaut) -> list[int]:
    """Ana turned face recognition on and named the astronaut Eileen; two photos of her mirrored, signed, each with
    "Looks like Eileen?". Their analysis ids."""
    make_user(app, "ana")
    client = app.test_client()
    login(client, "ana")
    photos = [int(upload(client, another_copy(jpeg_bytes(image), f"{n}"), f"{n}.jpg").location.rsplit("/", 1)[1])
              for n, image in enumerate([astronaut] + [np.ascontiguousarray(astronaut[:, ::-1])] * 2)]
    with app.app_context():
        ana = db.session.scalar(db.select(User).filter_by(username="ana"))
        eileen = Subject(user=ana, name="Eileen", kind="person")
        db.session.add(eileen)
        db.session.get(Analysis, photos[0]).detections[0].subject = eileen
        identity.set_recognition(ana, True)
    wait_for_signatures(app)
    return photos[1:]


def test_the_page_checks_for_named_people_then_shows_the_suggestion_and_notes_a_no(live_app, browser, astronaut):
    """While a photo's faces are being signed its page says so and reloads itself once they are, with "Looks like
    Eileen?"; after "No" the confirmation shows in that face's card, where the page lands, in the page's language."""
    app, base = live_app
    photos = looks_like_eileen(app, astronaut)
    app.extensions["moodlens_jobs"].stop()  # the jobs below stay queued until the test says they are done
    for (viewport, locale, checking, noted), photo in zip(
            [("desktop", "en-GB", "Checking whether anyone here", "Noted: we will not suggest Eileen"),
             ("phone", "ko-KR", "이름 붙인 사람이 있는지 확인하고 있어요", "다시 제안하지 않을게요")], photos):
        with app.app_context():
            db.session.scalar(db.select(SignatureJob).filter_by(analysis_id=photo)).status = JobStatus.QUEUED
            db.session.commit()
        page = log_in(browser, base, "ana", locale, viewport)
        page.goto(f"{base}/analyses/{photo}")
        expect(page.locator(".checking-faces")).to_contain_text(checking)
        shot(page, f"checking-faces-{viewport}")
        with app.app_context():
            db.session.scalar(db.select(SignatureJob).filter_by(analysis_id=photo)).status = JobStatus.DONE
            db.session.commit()
        expect(page.locator(".suggestion")).to_contain_text("Eileen")  # the page reloaded itself
        expect(page.locator(".checking-faces")).to_have_count(0)
        page.locator(".suggestion form").nth(1).locator("button").click()
        expect(page.locator("#face-1 .flash")).to_contain_text(noted)
        assert page.url.endswith("#face-1") and page.locator("main > [data-flashed]").count() == 0  # not at the top
        expect(page.locator("#face-1 .flash")).to_be_focused()  # a screen reader reads it (the anchor's focus after)
        shot(page, f"after-no-{viewport}")
        assert not page.console_errors
        page.context.close()


def test_the_spoken_progress_follows_the_bar_a_tenth_at_a_time(live_app, browser, astronaut, tmp_path):
    """The visually hidden status a screen reader announces said "0% done" while the bar said 15%, until 25%: now
    it gives the figure once the bar reaches a new tenth, no more often than every 3 seconds (the page's clock)."""
    app, base = live_app
    video = analysed_clip(app, "fay", write_video(tmp_path / "clip.mp4", moving_faces_frames(astronaut, 10, faces=1)))
    with app.app_context():  # the page is the progress page; its polls are answered below
        db.session.get(Analysis, video).status = JobStatus.RUNNING
        db.session.commit()
    progress = {"progress": 0.0}
    page = log_in(browser, base, "fay", "en-GB", "desktop")
    start = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    page.clock.install(time=start)
    page.clock.pause_at(start + timedelta(seconds=1))  # timers fire only as the test runs the clock on
    page.route(f"**/api/v1/analyses/{video}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"status": "running", **progress})))
    page.goto(f"{base}/analyses/{video}")
    said, shown = page.locator("#job-said"), page.locator("#job-percent")
    told = []
    for value in (0.0, 0.15, 0.17, 0.18, 0.19, 0.31, 0.32, 0.33):  # a poll a second
        progress["progress"] = value
        page.clock.run_for(1000)
        expect(shown).to_have_text(f"{value:.0%} done")
        told.append(said.text_content().removeprefix("Analysing the video: "))
    assert told == ["0% done", "0% done", "0% done", "18% done", "18% done", "18% done", "32% done", "32% done"]
    page.context.close()


def test_the_tab_title_follows_the_polled_status(live_app, browser, astronaut, tmp_path):
    """A user who leaves the progress tab, as the page invites, saw "queued" in its title all the while the video
    was being analysed: the title follows the polled status as the heading does (here the page was made while the
    job ran, and the poll answers "queued": a queued job in the live app would be taken by its worker)."""
    app, base = live_app
    video = analysed_clip(app, "gil", write_video(tmp_path / "clip.mp4", moving_faces_frames(astronaut, 10, faces=1)))
    with app.app_context():
        db.session.get(Analysis, video).status = JobStatus.RUNNING
        db.session.commit()
    page = log_in(browser, base, "gil", "en-GB", "desktop")
    page.route(f"**/api/v1/analyses/{video}", lambda route: route.fulfill(
        status=200, content_type="application/json", body=json.dumps({"status": "queued", "progress": 0.4})))
    page.goto(f"{base}/analyses/{video}")
    expect(page.locator("#job-percent")).to_have_text("40% done")
    assert page.title() == "clip.mp4: queued · Moodlens"
    page.context.close()


def test_a_cat_track_set_to_a_dog_says_it_is_being_read_then_shows_the_dogs_emotions(live_app, browser, tmp_path):
    """The owner of a video says its cat is a dog: the card says the dog model is reading it in the video's frames,
    and the page reloads itself with the dog's emotions once the job is done (here run by the test), still saying
    what was saved (the message went with the reload)."""
    app, base = live_app
    cat = np.ascontiguousarray(np.asarray(Image.fromarray(skdata.chelsea()).resize((448, 300))))
    video = analysed_clip(app, "gus", write_video(tmp_path / "cat.mp4", [np.roll(cat, shift, axis=1)
                                                                          for shift in range(0, 20, 2)]))
    app.extensions["moodlens_jobs"].stop()  # the reading stays queued until the test runs it
    page = log_in(browser, base, "gus", "en-GB", "phone")
    page.goto(f"{base}/analyses/{video}")
    page.get_by_role("link", name="Not a cat? Mark it as a dog").click()
    page.get_by_role("button", name="Yes, it is a dog").click()
    expect(page.locator(".reading-frames")).to_contain_text("The dog model is reading it in each of the video’s frames")
    expect(page.locator("#face-1 .flash")).to_have_text("Saved: Cat 1 is now Dog 1.")
    shot(page, "reading-frames-phone")
    assert jobs.work_once(app)
    expect(page.locator(".track .transitions, .track .track-charts").first).to_be_visible()  # the page reloaded
    expect(page.locator(".reading-frames")).to_have_count(0)
    expect(page.locator(".species-said")).to_contain_text("You said this is a dog.")
    expect(page.locator("#face-1 .flash")).to_have_text("Saved: Cat 1 is now Dog 1.")
    shot(page, "read-as-a-dog-phone")
    page.reload()
    expect(page.locator(".species-said")).to_be_visible()
    expect(page.locator("[data-flashed]")).to_have_count(0)  # once
    assert not page.console_errors
    page.context.close()
