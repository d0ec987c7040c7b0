"""The interface in English and Korean: which language a request gets, the switch and where it is remembered,
dates and numbers in the reader's locale, the API and exports left in English, and a catalogue that is complete,
current with the code and compiled."""

from __future__ import annotations

import html
import io
import re
import subprocess
import warnings
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from babel import Locale
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask_babel import get_locale
from PIL import Image

from bench import ROOT
from bench.fixtures import csrf_token, login, make_user
from extensions import db
from insights.history import describe_mix
from insights.report import ChartWords, drawable, report_png
from models import Analysis, Detection, Subject, User, utcnow
from tests.conftest import csv_rows, upload
from tests.test_owner_pages import appearances, subject_of
from web import i18n
from web.i18n import (COOKIE, day, interval, named_at_most, particles, reason, say, servers_failure, share,
                      wrappable)

PO = ROOT / "translations" / "ko" / "LC_MESSAGES" / "messages.po"
KOREAN = {"Accept-Language": "ko-KR,ko;q=0.9,en;q=0.5"}


def catalogue(path: Path):
    with path.open("rb") as file:
        return read_po(file)


def html_lang(page: str) -> str:
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


def switch(client, locale: str, next_path: str = "/about"):
    token = csrf_token(client, "/about")  # the header's switch carries a token on every page
    return client.post("/language", data={"locale": locale, "next": next_path, "csrf_token": token})


def test_every_message_is_translated_and_none_is_fuzzy():
    po = catalogue(PO)
    untranslated = [m.id for m in po if m.id and not all(m.string if isinstance(m.string, tuple) else [m.string])]
    assert untranslated == []
    assert [m.id for m in po if m.id and m.fuzzy] == [] and not po.fuzzy


def test_the_catalogue_holds_exactly_the_strings_the_code_wraps(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(["bash", str(ROOT / "scripts" / "translations.sh"), "extract", str(template)], check=True)
    wrapped = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalogue(template) if m.id}
    translated = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalogue(PO) if m.id}
    assert wrapped - translated == set(), "run scripts/translations.sh update, translate, compile"
    assert translated - wrapped == set(), "obsolete entries: run scripts/translations.sh update"
    assert len(wrapped) > 300


def test_the_compiled_catalogue_matches_the_po():
    def entries(messages) -> dict:
        def plain(value):
            return tuple(value) if isinstance(value, list | tuple) else value
        return {(m.context, plain(m.id)): plain(m.string) for m in messages if m.id}
    with PO.with_suffix(".mo").open("rb") as file:
        compiled = entries(read_mo(file))
    written = entries(catalogue(PO))
    assert compiled == written, "stale messages.mo: run scripts/translations.sh compile"


def test_the_browser_language_picks_the_interface(client):
    korean = client.get("/login", headers=KOREAN).get_data(as_text=True)
    assert html_lang(korean) == "ko" and "<h1>로그인</h1>" in korean and "사용자 이름" in korean
    english = client.get("/login", headers={"Accept-Language": "fr, en;q=0.8, ko;q=0.1"}).get_data(as_text=True)
    assert html_lang(english) == "en" and "<h1>Log in</h1>" in english
    assert html_lang(client.get("/login", headers={"Accept-Language": "de"}).get_data(as_text=True)) == "en"
    assert html_lang(client.get("/login").get_data(as_text=True)) == "en"


def test_english_follows_the_browsers_region_for_dates(app, client, alice):
    """A British browser reads English pages with British dates; a Korean choice stays Korean whatever the region."""
    british = {"Accept-Language": "en-GB, en;q=0.9"}
    page = client.get("/analyses", headers=british).get_data(as_text=True)
    assert html_lang(page) == "en-GB" and "<h1>Your history</h1>" in page
    assert ">한국어<" in page and ">English<" not in page  # the switch offers the other language only
    with app.test_request_context(headers=british):
        assert str(get_locale()) == "en_GB" and day(date(2026, 12, 3)) == "3 December 2026"
    with app.test_request_context(headers={"Accept-Language": "en-US"}):
        assert str(get_locale()) == "en" and day(date(2026, 12, 3)) == "December 3, 2026"
    with app.test_request_context(headers={"Accept-Language": "ko-KR, en-GB;q=0.5"}):
        assert str(get_locale()) == "ko"
    with app.test_request_context(headers={"Accept-Language": "en-ZZ, en-xx-yy"}):
        assert str(get_locale()) == "en"  # no region Babel knows: plain English
    with app.test_request_context(headers={"Accept-Language": "en-Shaw-GB, en-AU;q=0.9"}):
        assert str(get_locale()) == "en_AU"  # not English in the Shavian alphabet, which no font here has


def test_only_the_first_languages_of_a_long_header_are_looked_up(app, client, monkeypatch):
    """Thousands of languages (a header, or many header lines joined) cost no more than a browser's few."""
    parsed = []

    class CountedLocale(Locale):
        @classmethod
        def parse(cls, tag, sep="_"):
            parsed.append(tag)
            return Locale.parse(tag, sep=sep)

    monkeypatch.setattr(i18n, "Locale", CountedLocale)
    header = ", ".join(f"xx-{index}" for index in range(20_000))
    page = client.get("/login", headers={"Accept-Language": header})
    assert page.status_code == 200 and html_lang(page.get_data(as_text=True)) == "en"
    assert 0 < len(parsed) <= i18n.REGION_TAGS * 2  # at most a few reads of the header in one request
    monkeypatch.undo()
    late = ", ".join([*(f"xx-{index}" for index in range(i18n.REGION_TAGS)), "en-GB"])
    with app.test_request_context(headers={"Accept-Language": late}):
        assert str(get_locale()) == "en"  # past the languages read: plain English


def test_an_anonymous_browser_keeps_its_choice_in_a_cookie(client):
    answer = switch(client, "ko", "/about?x=1")
    assert answer.status_code == 303 and answer.location == "/about?x=1"
    assert client.get_cookie(COOKIE).value == "ko"
    page = client.get("/about", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(page) == "ko" and "모델 소개" in page
    assert switch(client, "en").status_code == 303
    assert html_lang(client.get("/about", headers=KOREAN).get_data(as_text=True)) == "en"


def test_a_users_choice_follows_them_across_log_out_and_browsers(app, client):
    make_user(app, "mina")
    login(client, "mina")
    assert switch(client, "ko").status_code == 303
    with app.app_context():
        assert User.named("mina").locale == "ko"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/analyze")})
    other = app.test_client()  # a new browser: no cookie, an English Accept-Language
    login(other, "mina")
    page = other.get("/analyze", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(page) == "ko" and "사진이나 동영상 분석" in page
    logged_out = other.post("/logout", data={"csrf_token": csrf_token(other, "/analyze")}, follow_redirects=True,
                            headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert html_lang(logged_out) == "ko"  # the login page after it too (it was English in a browser new to her)


def test_a_language_chosen_before_signing_up_is_kept_on_the_account_not_one_a_log_in_finds(app, client):
    """The switch before "Sign up" is the account's choice too, so it follows the user to a new browser. A log-in
    adopts no cookie: on a shared browser it may be the last account's language."""
    switch(client, "ko")
    client.post("/register", data={"username": "yuna", "password": "yuna-pass-1234", "confirm": "yuna-pass-1234",
                                   "csrf_token": csrf_token(client, "/register")})
    make_user(app, "ann")
    make_user(app, "ben")
    shared = app.test_client()
    login(shared, "ann")
    switch(shared, "ko")
    shared.post("/logout", data={"csrf_token": csrf_token(shared, "/analyze")})
    login(shared, "ben")
    with app.app_context():
        assert [User.named(name).locale for name in ("yuna", "ann", "ben")] == ["ko", "ko", None]


@pytest.mark.parametrize("form", [{"locale": "xx"}, {"locale": ""}, {}, {"locale": "ko\r\nSet-Cookie: a=b"}])
def test_a_bad_locale_is_refused_with_400(client, form):
    answer = client.post("/language", data={**form, "csrf_token": csrf_token(client, "/about")})
    assert answer.status_code == 400
    assert client.get_cookie(COOKIE) is None


def test_the_switch_goes_back_only_to_this_site(client):
    for target in ("https://evil.example/", "//evil.example", None):
        answer = switch(client, "ko", target)
        assert answer.status_code == 303 and answer.location == "/"


def test_the_switch_needs_a_csrf_token(client):
    assert client.post("/language", data={"locale": "ko"}).status_code == 400


def test_every_page_carries_the_switch_to_the_other_language(app, client, alice):
    page = client.get("/analyses", headers=KOREAN).get_data(as_text=True)
    assert 'action="/language"' in page and 'value="en"' in page and 'name="next" value="/analyses"' in page
    english = client.get("/analyses").get_data(as_text=True)
    assert 'value="ko"' in english and '<span lang="ko">한국어</span>' in english  # read in a Korean voice
    assert '<span class="visually-hidden">Language: </span>' in english  # and its purpose in the page's


def test_dates_and_numbers_follow_the_locale(app, client, alice, astronaut_jpeg):
    location = upload(client, astronaut_jpeg, "face.jpg").location
    with app.app_context():
        analysis = db.session.get(Analysis, int(location.rsplit("/", 1)[1]))
        analysis.created_at = datetime(2026, 12, 1, 15, 4)
        db.session.commit()
    korean = client.get(location, headers=KOREAN).get_data(as_text=True)
    assert "2026년 12월 1일 오후 3:04 UTC" in korean and "얼굴 1" in korean and "행복" in korean
    english = client.get(location).get_data(as_text=True).replace("\u202f", " ")  # CLDR: a narrow space before PM
    assert "December 1, 2026, 3:04 PM UTC" in english and "Face 1" in english
    history = client.get("/analyses", headers=KOREAN).get_data(as_text=True)
    assert "2026년 12월 1일" in history and "분석 1개, 최신순." in history


def test_the_api_answers_in_english_whatever_the_browser_says(app, client, alice, astronaut_jpeg):
    location = upload(client, astronaut_jpeg, "face.jpg").location
    url = "/api/v1/analyses/" + location.rsplit("/", 1)[1]
    assert client.get(url, headers=KOREAN).get_json() == client.get(url).get_json()
    switch(client, "ko")
    document = client.get(url, headers=KOREAN).get_json()
    assert document["detections"][0]["top"] in {"happy", "neutral", "surprise", "sad", "angry", "fear", "disgust"}
    assert client.get("/api/v1/analyses/999999", headers=KOREAN).get_json()["error"].isascii()


def test_subject_insights_exports_and_their_api_stay_in_english(app, client, alice):
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, rex, "dog", "happy", 4, utcnow() - timedelta(days=5))
    switch(client, "ko")
    assert client.get(f"/api/v1/subjects/{rex}/insights").get_json()["profile"]["description"] == "mostly happy"
    rows = csv_rows(client.get(f"/subjects/{rex}/export.csv"))
    assert {(row["kind"], row["top"]) for row in rows} == {("dog", "happy")}
    page = client.get(f"/dashboard?subject={rex}").get_data(as_text=True)
    assert "대체로 행복" in page and "mostly happy" not in page


def test_phrases_from_insights_are_translated_with_their_emotions(app):
    phrase = describe_mix(("happy", "sad", "neutral"), np.array([0.7, 0.2, 0.1]))
    assert phrase == "mostly happy, some sad"  # a str: JSON, exports and logs see English
    with app.test_request_context(headers=KOREAN):
        assert say(phrase) == "대체로 행복, 가끔 슬픔"
    with app.test_request_context():
        assert say(phrase) == "mostly happy, some sad"
    surprised = describe_mix(("surprise", "disgust", "fear"), np.array([0.4, 0.35, 0.25]))
    assert surprised == "often surprised, also disgusted"  # a mood in adjectives ("mostly surprise" read oddly)
    with app.test_request_context(headers=KOREAN):
        assert say(surprised) == "자주 놀람, 혐오도 있음"


def test_a_filter_on_a_constant_follows_each_readers_language(app):
    """Jinja folds a filter on a constant at compile time: a template compiled for an English reader must not keep
    its English words for the next, Korean one (the video timeline's "0.0 s")."""
    with app.test_request_context():
        template = app.jinja_env.from_string("{{ 0 | seconds }} {{ 'happy' | emotion }} {{ 0.5 | percent }}")
        assert template.render() == "0.0 s happy 50%"
    with app.test_request_context(headers=KOREAN):
        assert template.render() == "0.0초 행복 50%"


def test_a_moment_of_a_4_fps_video_is_shown_at_its_hundredth(app):
    """A frame sampled at 0.25 s is "Go to 0.25 s", not "0.2 s" (half to even) beside a link to t=0.25."""
    with app.test_request_context():
        template = app.jinja_env.from_string("{{ 0.25 | seconds }}, {{ 5 | seconds }}, {{ 12.375 | seconds }}")
        assert template.render() == "0.25 s, 5.0 s, 12.38 s"
    with app.test_request_context(headers=KOREAN):
        assert template.render() == "0.25초, 5.0초, 12.38초"


def test_an_interval_whose_ends_show_as_one_percent_is_one_figure(app):
    """Not "3%–3%": an interval narrower than the percent it is shown in reads as that percent."""
    for headers in ({}, KOREAN):
        with app.test_request_context(headers=headers):
            assert interval(0.0277, 0.0311) == "3%" and interval(0.031, 0.0733) == "3%–7%"
            assert interval(0.0, 0.004) == "0%" and interval(0.0, 0.006) == "0%–1%"


def test_a_share_above_nothing_that_rounds_to_0_percent_shows_as_under_1_percent(app):
    """A weekly report's "relaxed 0%" for a share of 0.3% read as never relaxed."""
    for headers in ({}, KOREAN):
        with app.test_request_context(headers=headers):
            assert [share(value) for value in (0.0, 0.003, 0.005, 0.0051, 0.42)] == ["0%", "<1%", "<1%", "1%", "42%"]


def test_the_profile_table_shows_one_figure_for_an_interval_that_rounds_to_one_percent(app, client, alice):
    """The subject dashboard's mix: a spread emotion keeps its two ends, one that never varied (here every
    appearance's "angry" is the same) shows its one percent in the interval column, in either language."""
    mia = subject_of(app, alice, "Mia", "person")
    appearances(app, alice, mia, "human", "happy", 4, utcnow() - timedelta(days=9))
    appearances(app, alice, mia, "human", "sad", 2, utcnow() - timedelta(days=3))
    for headers in ({}, KOREAN):
        page = client.get(f"/dashboard?subject={mia}", headers=headers).get_data(as_text=True)
        rows = dict((emotion, cells) for emotion, *cells in
                    re.findall(r'emo-(\w+)">[^<]*</span></th>\s*<td>([^<]*)</td><td>([^<]*)</td>', page))
        assert set(rows) == {"happy", "sad", "angry", "disgust", "fear", "surprise", "neutral"}
        assert rows["angry"] == ["2%", "2%"]
        low, high = rows["happy"][1].split("–")
        assert low != high and low.endswith("%") and high.endswith("%")


def test_the_profile_table_is_titled_in_plain_words(app, client, alice):
    mia = subject_of(app, alice, "Mia", "person")
    appearances(app, alice, mia, "human", "happy", 4, utcnow() - timedelta(days=2))
    english = client.get(f"/dashboard?subject={mia}").get_data(as_text=True)
    assert "Average share of each emotion, with the range it likely lies in</caption>" in english
    assert ">average</th><th scope=\"col\">likely range</th>" in english
    assert "confidence interval" not in english and "95%" not in english
    korean = client.get(f"/dashboard?subject={mia}", headers=KOREAN).get_data(as_text=True)
    assert "감정별 평균 비율과 그 값이 있을 법한 범위</caption>" in korean and "신뢰 구간" not in korean


def test_a_file_name_may_wrap_after_its_underscores_and_dots_but_not_inside_a_word():
    assert wrappable("scottish_terrier_10.jpg") == "scottish_<wbr>terrier_<wbr>10.jpg"  # not before the extension
    assert wrappable("IMG.2026.12.jpeg") == "IMG.<wbr>2026.<wbr>12.jpeg" and wrappable("walk.mp4") == "walk.mp4"
    assert wrappable('<b>"q"_x.png') == "&lt;b&gt;&#34;q&#34;_<wbr>x.png"  # the name escaped, only the breaks markup

def test_form_errors_and_flash_messages_are_translated(app, client):
    make_user(app, "mina")
    page = client.post("/login", headers=KOREAN, data={"username": "mina", "password": "wrong",
                                                        "csrf_token": csrf_token(client)}, follow_redirects=True)
    assert "사용자 이름이나 비밀번호가 틀렸어요." in page.get_data(as_text=True)
    page = client.post("/register", headers=KOREAN, data={"username": "a b", "password": "short", "confirm": "x",
                                                           "csrf_token": csrf_token(client, "/register")})
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "띄어쓰기나 다른 기호는 쓸 수 없어요" in text
    assert "비밀번호가 일치하지 않아요." in text


def test_error_pages_and_upload_errors_are_translated(app, client, alice):
    assert "찾을 수 없음" in client.get("/nowhere", headers=KOREAN).get_data(as_text=True)
    answer = client.post("/analyze", headers=KOREAN, data={
        "file": (io.BytesIO(b"not an image at all"), "x.jpg"), "csrf_token": csrf_token(client, "/analyze")})
    assert answer.status_code == 415 and "지원하는 이미지" in answer.get_data(as_text=True)


def test_the_weekly_report_png_draws_korean_labels_with_a_korean_font(app, client, alice):
    rex = subject_of(app, alice, "Rex", "dog")
    appearances(app, alice, rex, "dog", "happy", 3, utcnow() - timedelta(days=2))
    switch(client, "ko")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for every box it draws
        image = client.get(f"/subjects/{rex}/report.png")
    assert image.status_code == 200 and Image.open(io.BytesIO(image.data)).size == (990, 374)
    week = {"mix": {"happy": 0.6, "sad": 0.4}, "change": {}, "unsure": 0, "days": [
        {"date": "2026-11-30", "weekday": "Mon", "count": 1, "sure": 1, "top": "happy", "emotions": {"happy": 1}}]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report_png(week, ChartWords(title="렉스, 2026-W49", emotions={"happy": "행복", "sad": "슬픔"}), {})
    assert not [w for w in caught if "missing from font" in str(w.message)]


def test_an_emoji_in_a_name_that_no_font_draws_is_left_out_of_the_report_pngs_title_not_drawn_as_a_box(app, client,
                                                                                                      alice):
    rex = subject_of(app, alice, "Rex \U0001F436", "dog")
    appearances(app, alice, rex, "dog", "happy", 3, utcnow() - timedelta(days=2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)" for each box it draws
        assert client.get(f"/subjects/{rex}/report.png").status_code == 200
    assert (drawable("Rex \U0001F436 렉스"), drawable("\U0001F436"), drawable("Rex \U0001F600")) == (
        "Rex 렉스", "\U0001F436", "Rex \U0001F600")  # nothing left: as it is; a face DejaVu Sans draws: kept


def test_the_about_page_words_the_pet_detectors_false_alarms_in_korean(client):
    page = client.get("/about", headers=KOREAN).get_data(as_text=True)
    assert "false alarms" not in page  # the model card's "0 false alarms in 7", quoted as it was


def test_the_403_page_says_in_plain_korean_that_a_page_is_for_administrators(client, alice):
    page = client.get("/admin/", headers=KOREAN).get_data(as_text=True)
    assert "관리자만 볼 수 있는 페이지예요." in page and "읽기가 보호" not in page


def test_upload_errors_about_empty_files_and_broken_videos_are_translated(app, client, alice):
    for name, content in (("empty.jpg", b""), ("broken.mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(200))):
        answer = client.post("/analyze", headers=KOREAN, content_type="multipart/form-data", data={
            "file": (io.BytesIO(content), name), "csrf_token": csrf_token(client, "/analyze")})
        text = answer.get_data(as_text=True)
        assert answer.status_code == 400 and "The file is empty" not in text and "cannot be opened" not in text


NO_FRAMES = "The video has no readable frames."  # inference/video.py, as a failed video's job stores it


def test_a_failed_videos_stored_reason_is_shown_in_the_readers_language(app, client, alice, faceless_video):
    location = upload(client, faceless_video.read_bytes(), "coffee.mp4").location
    with app.app_context():
        analysis = db.session.get(Analysis, int(location.rsplit("/", 1)[1]))
        analysis.status, analysis.error = "failed", NO_FRAMES  # the English text the job queue stores
        db.session.commit()
    korean = client.get(location, headers=KOREAN).get_data(as_text=True)
    assert NO_FRAMES not in korean and html_lang(korean) == "ko"
    assert NO_FRAMES in client.get(location).get_data(as_text=True)


def test_a_video_the_server_gave_up_on_says_whom_to_ask_and_a_broken_file_does_not(app, client, alice,
                                                                                    faceless_video):
    """Interrupted three times (its workers stopped), stopped at the time limit, an internal error: only an
    administrator can have it run again (the back office's Retry), so its owner is told whom to ask; a file without
    readable frames is the file's."""
    location = upload(client, faceless_video.read_bytes(), "coffee.mp4").location
    said = "An administrator can have it analysed again (if it fails the same way again, the video itself may be " \
           "the cause). To ask about it, contact whoever runs this Moodlens server."
    for error, told in (("The work was interrupted 3 times and was given up.", True), (NO_FRAMES, False),
                        ("The work failed because of an internal error; the upload is kept.", True),
                        ("The work took longer than 10 minutes and was stopped; the upload is kept.", True)):
        with app.app_context():
            analysis = db.session.get(Analysis, int(location.rsplit("/", 1)[1]))
            analysis.status, analysis.error = "failed", error
            db.session.commit()
        page = html.unescape(client.get(location).get_data(as_text=True))
        assert (said in page) is told, error
        assert ('Or <a href="/analyze">upload the video again</a>: it is analysed anew.' in page) is told, error
    korean = client.get(location, headers=KOREAN).get_data(as_text=True)
    assert "관리자가 다시 분석하게 할 수 있어요" in korean


def test_a_video_jobs_stored_reasons_with_figures_are_read_back_into_korean(app):
    """A video that failed in its job stores the English text, its figures filled in: shown in Korean by its msgid."""
    stored = {"The video cannot be opened: it is cut short or damaged, has no picture, or has more than 16 tracks "
              "(picture, sound, subtitles).": "트랙(영상·소리·자막)이 16개보다 많아요.",
              "The video's codec (FFV1) is not supported; H.264, HEVC, VP8, VP9, AV1, MPEG-4 and other common codecs "
              "are.": "FFV1"}
    with app.test_request_context(headers=KOREAN):
        for english, korean_part in stored.items():
            said = reason(english)
            assert korean_part in said and said != english


def test_a_reason_stored_by_an_earlier_version_in_other_words_is_read_as_the_same_reason(app):
    """An upgrade's old "The analysis was interrupted 3 times" stayed English on Korean pages, and the back office did
    not count it as the server's failure (an administrator can retry it)."""
    earlier = "The analysis was interrupted 3 times and was given up."
    with app.test_request_context(headers=KOREAN):
        assert reason(earlier) == "작업이 3번 중단되어 그만두었어요." and servers_failure(earlier)


def test_pages_tell_caches_they_vary_by_the_browsers_language(client):
    assert "Accept-Language" in client.get("/about", headers=KOREAN).headers.get("Vary", "")


@pytest.mark.parametrize(("text", "expected"), [
    ("개이(가) 아니에요", "개가 아니에요"), ("다른 사람와(과) 비슷해요", "다른 사람과 비슷해요"),
    ("몽을(를)", "몽을"), ("집(으)로", "집으로"), ("서울(으)로", "서울로"), ("몽(이)라는", "몽이라는"),
    ("Rex이(가)", "Rex가"), ("Tom을(를)", "Tom을"), ("Paul(으)로", "Paul로"), ("Mia(이)라는", "Mia라는"),
    ("<strong>Mia</strong>은(는)", "<strong>Mia</strong>는"), ("3이(가)", "3이"), ("2을(를)", "2를"),
    ("%(name)s을(를)", "%(name)s을(를)"),  # not filled in yet: for a page's script
    ("Q이(가)", "Q이(가)"), ("“Q”이(가)", "“Q”이(가)"),  # no telling: the paired form stays
    ("“Rex”이(가)", "“Rex”가"), ("“banana”은(는)", "“banana”는"), ("'2026-W60'은(는)", "'2026-W60'은"),
    ("Belle을(를)", "Belle을"), ("Jane이(가)", "Jane이(가)"),  # a final -le reads ㄹ; another final e: no telling
    ("husky-painting.png을(를)", "husky-painting.png를"), ("photo.jpg을(를)", "photo.jpg를"),  # 피엔지, 제이피지
    ("page.html을(를)", "page.html을"), ("clip.mkv(으)로", "clip.mkv로"), ("BTS와(과)", "BTS와"),  # 엘, 브이, 에스
    ("한국 표준시 (서울)(으)로", "한국 표준시 (서울)로"), ("커피 (coffee)을(를)", "커피 (coffee)를"),  # the word before
    ("집 (Seoul)(으)로", "집 (Seoul)으로"),  # its parenthesis takes the particle, as Korean writing has it
])
def test_korean_particles_follow_the_word_before_them(text, expected):
    assert particles(text) == expected


def test_pages_and_messages_write_the_particle_a_name_takes(app, client, alice):
    token = csrf_token(client, "/subjects")
    for name, added in (("Rex", "Rex를 추가했어요"), ("몽", "몽을 추가했어요")):
        page = client.post("/subjects", headers=KOREAN, data={"name": name, "kind": "dog", "csrf_token": token},
                           follow_redirects=True).get_data(as_text=True)
        assert added in page and "(를)" not in page
    with app.app_context():
        dogs = db.session.scalars(db.select(Subject.id).order_by(Subject.id)).all()
    for dog in dogs:
        appearances(app, alice, dog, "dog", "happy", 3, utcnow() - timedelta(days=5))
    page = client.get(f"/dashboard?subject={dogs[0]}", headers=KOREAN).get_data(as_text=True)
    assert "다른 개와 비슷해요" in page and "와(과)" not in page  # a template's sentence
    assert "Rex를 삭제할까요?" in client.get(f"/subjects/{dogs[0]}/delete", headers=KOREAN).get_data(as_text=True)


@pytest.mark.parametrize("name", ["딜립", "지우", "Jane"])  # a final consonant, a vowel, no telling
def test_saving_an_unsure_face_names_the_person_without_a_paired_particle(app, client, alice, name):
    person = subject_of(app, alice, name, "person")
    appearances(app, alice, None, "human", "fear", 1, utcnow())
    with app.app_context():
        face = db.session.scalars(db.select(Detection)).one()
        face.emotions = {"fear": 0.4, "sad": 0.35, "neutral": 0.25}  # unsure: left out of the charts
        db.session.commit()
        face_id, analysis_id = face.id, face.analysis_id
    token = csrf_token(client, f"/analyses/{analysis_id}")
    saved = client.post(f"/detections/{face_id}/subject", headers=KOREAN, follow_redirects=True,
                        data={f"d{face_id}-subject": str(person), "csrf_token": token}).get_data(as_text=True)
    assert f"얼굴 1을 {name}에게 지정했어요. 판독이 확실하지 않아서 {name}의 차트와 인사이트에는 넣지 않아요." in saved
    assert "(이)" not in saved


def test_an_english_page_keeps_a_name_as_it_was_typed(app, client, alice):
    token = csrf_token(client, "/subjects")
    client.post("/subjects", data={"name": "Rex을(를)", "kind": "dog", "csrf_token": token})
    with app.app_context():
        dog = db.session.scalars(db.select(Subject.id)).one()
    assert "Rex을(를)" in client.get(f"/subjects/{dog}/delete").get_data(as_text=True)


def test_lists_read_as_each_language_writes_them(app):
    """CLDR's Korean list joins with "및", a written, formal word beside the pages' friendly 해요체 ("코 및 눈" in a
    heat map's text, "행복 및 슬픔" in a report): Korean lists are joined with "·"."""
    from web.i18n import emotions_listed, regions_listed

    with app.test_request_context(headers={"Accept-Language": "ko"}):
        assert regions_listed(["nose", "eyes"]) == "코·눈" and emotions_listed(["happy", "sad"]) == "행복·슬픔"
    with app.test_request_context(headers={"Accept-Language": "en-US"}):
        assert regions_listed(["nose", "eyes"]) == "the nose and the eyes"
        assert emotions_listed(["angry", "happy", "sad"]) == "angry, happy, and sad"


def test_every_label_a_model_reads_and_every_map_region_has_words_in_both_languages(app):
    """A label or region without an entry reached the page as its bare key ("upper_left", "relaxed" untranslated)."""
    from flask_babel import force_locale
    from inference.map_regions import MapRegion
    from inference.labels import ALL_EMOTIONS, CAT_EMOTIONS, DOG_EMOTIONS, HUMAN_EMOTIONS, DetectionKind
    from insights.history import ADJECTIVES
    from web.i18n import ADJECTIVE_NAMES, EMOTION_NAMES, MOOD_NAMES, REGION_NAMES
    from web.analyze import COMMENTS
    # every model's labels, the cat model's too (models.EMOTION_CLASSES has it once its weights ship), in the API's
    # English words too ("mostly other" where the pages said "in another mood")
    assert set(ALL_EMOTIONS) == EMOTION_NAMES.keys() == ADJECTIVE_NAMES.keys() == MOOD_NAMES.keys() == ADJECTIVES.keys()
    assert set(REGION_NAMES) == set(MapRegion)
    labels_by_kind = {DetectionKind.HUMAN: HUMAN_EMOTIONS, DetectionKind.DOG: DOG_EMOTIONS,
                      DetectionKind.CAT: CAT_EMOTIONS}
    assert {kind: set(comments) for kind, comments in COMMENTS.items()} == \
        {kind: set(labels) for kind, labels in labels_by_kind.items()}
    with app.test_request_context(), force_locale("ko"):
        words = [*EMOTION_NAMES.values(), *ADJECTIVE_NAMES.values(), *MOOD_NAMES.values(), *REGION_NAMES.values()]
        assert not [str(word) for word in words if not re.search("[가-힣]", str(word))]


def test_a_right_to_left_name_is_set_apart_in_a_sentence_and_other_names_are_left_as_they_are(app, client, alice):
    """A Korean heading "محمد: 2026년 12월 7일 주간" was drawn "2026 :محمد년 12월 7일 주간": the name's letters took the
    colon and the year with them. Set apart by Unicode's isolates (FSI ... PDI), it keeps to itself."""
    from bench.fixtures import make_subject
    from web.i18n import set_apart
    assert set_apart("Rex") == "Rex" and set_apart("지우") == "지우"
    assert set_apart("محمد") == "\u2068محمد\u2069" and set_apart("Dana שלום") == "\u2068Dana שלום\u2069"
    named = make_subject(app, alice, "محمد")
    page = client.get(f"/subjects/{named}/report", headers=KOREAN).get_data(as_text=True)
    assert re.search("<h1>\u2068محمد\u2069: [^<]*주간</h1>", page), re.findall("<h1>.*</h1>", page)


def test_a_suggestions_yes_and_no_buttons_are_named_with_their_visible_words_in_korean(app):
    """The button showed "예" and was named "네, Ana이에요": a voice-control user who said "예" had no match (WCAG
    2.5.3, label in name), and "Ana이에요" after a vowel is not Korean."""
    from flask_babel import gettext
    with app.test_request_context(headers=KOREAN):
        assert gettext("Yes, this is %(name)s", name="Ana").startswith(gettext("Yes"))
        assert gettext("No, this is not %(name)s", name="Ana").startswith(gettext("No"))
        assert gettext("Yes, this is %(name)s", name="Ana") == "예, Ana 맞아요"


def test_a_korean_particle_after_a_right_to_left_name_is_resolved_through_its_isolate(app):
    """"محمد 2" set apart ends in U+2069: the particle after it stayed "(이)라" ("2라" before it was set apart)."""
    from messages import N_, Phrase
    with app.test_request_context(headers=KOREAN):
        said = say(Phrase(N_("You already have a subject called %(name)s."), name="محمد 2"))
    assert "\u2068محمد 2\u2069라" in said and "(이)라" not in said, said


def test_five_names_are_named_without_and_0_more(app):
    """Mutant 66 (the rest counted from 0 on): five removed uploads, NAMED_AT_MOST, were told as
    "a.jpg; b.jpg; c.jpg; d.jpg; e.jpg and 0 more"."""
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg", "e.jpg"]
    with app.test_request_context():
        assert named_at_most(names) == "; ".join(names)
        assert named_at_most([*names, "f.jpg"]).endswith("and 1 more")
