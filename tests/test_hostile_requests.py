"""Hostile requests that are not uploads: scrubber times past the end (the last frame) or not numbers (a 400), a
video whose file is gone, ids and query numbers no database integer can hold, too many form parts, a subject named like
maths."""

from __future__ import annotations

import shutil

import pytest
from werkzeug.routing import IntegerConverter

from extensions import db
from inference.errors import CorruptMedia
from messages import Phrase
from models import Analysis, JobStatus, Media, User
from services import storage


def stored_video(app, user_id: int, video_path, duration: float = 3.0) -> int:
    """A finished video analysis of `video_path` (copied to the upload folder), without running the models."""
    with app.app_context():
        name = storage.new_stored_name("mp4")
        shutil.copy(video_path, storage.upload_folder() / name)
        analysis = Analysis(user=db.session.get(User, user_id), media=Media.VIDEO, status=JobStatus.DONE,
                            original_name="clip.mp4", stored_name=name, format="mp4", width=640, height=360,
                            duration=duration, shown_count=0)
        db.session.add(analysis)
        db.session.commit()
        return analysis.id


@pytest.mark.parametrize("t", ["3.0", "2.99", "3", "1e9", "0", "-0"])
def test_the_scrubber_answers_a_frame_for_any_time_from_0_on_past_the_end_the_last(app, client, alice,
                                                                                   two_face_video, t):
    analysis_id = stored_video(app, alice, two_face_video)
    response = client.get(f"/analyses/{analysis_id}/frame?t={t}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    if float(t) >= 3:  # clamped to the video: the same picture as its end
        assert response.data == client.get(f"/analyses/{analysis_id}/frame?t=3").data


@pytest.mark.parametrize("t", ["inf", "-inf", "nan", "NaN", "-1", "-0.01", "abc", "", "1e400", "1,5",
                               "\u0663", "1_0", "%203", "\uff13"])  # Arabic-Indic and fullwidth 3s: float() read them
def test_a_frame_at_a_time_that_is_not_a_number_from_0_on_is_refused(app, client, alice, two_face_video, t):
    analysis_id = stored_video(app, alice, two_face_video)
    response = client.get(f"/analyses/{analysis_id}/frame?t={t}")
    assert response.status_code == 400 and "a number from 0 on" in response.get_data(as_text=True)
    korean = client.get(f"/analyses/{analysis_id}/frame?t={t}", headers={"Accept-Language": "ko"})
    assert korean.status_code == 400 and "a number from 0 on" not in korean.get_data(as_text=True)


def test_a_frame_asked_with_a_token_is_refused_in_json(app, client, alice, two_face_video):
    from tests.test_api import basic

    analysis_id = stored_video(app, alice, two_face_video)
    token = client.post("/api/v1/tokens", headers=basic("alice")).json["token"]
    response = client.get(f"/analyses/{analysis_id}/frame?t=nan", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400 and "a number from 0 on" in response.json["error"]
    assert client.get(f"/analyses/{analysis_id}/frame").status_code == 200  # no time: the first frame


def test_the_scrubber_falls_back_to_the_last_frame_when_the_duration_is_too_long(app, client, alice,
                                                                                 two_face_video):
    analysis_id = stored_video(app, alice, two_face_video, duration=3.4)  # a duration past the last frame
    assert client.get(f"/analyses/{analysis_id}/frame?t=3.4").status_code == 200


def test_a_one_frame_video_answers_its_frame_past_its_end(app, client, alice, tmp_path):
    """FFmpeg's capture that sought past the end of a 1-frame MP4 could not seek back: "No frame at 0.05 s" (400)."""
    import cv2
    import numpy as np

    path = tmp_path / "one.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    writer.write(np.full((48, 64, 3), 120, np.uint8))
    writer.release()
    analysis_id = stored_video(app, alice, path, duration=0.1)
    for t in ("0", "0.05", "0.1", "0.5"):
        response = client.get(f"/analyses/{analysis_id}/frame?t={t}")
        assert response.status_code == 200 and response.mimetype == "image/jpeg", t


def test_a_frame_of_a_video_whose_file_is_gone_is_404(app, client, alice, two_face_video):
    analysis_id = stored_video(app, alice, two_face_video)
    with app.app_context():
        storage.upload_path(db.session.get(Analysis, analysis_id).stored_name).unlink()
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 404


def test_a_frame_of_a_video_deleted_while_it_is_decoded_is_404(app, client, alice, two_face_video, monkeypatch):
    """An operator's walk-through: frames asked for while an administrator deleted the video answered 400 "cut short
    or damaged" now and then (the file went between the look for it and the decoding)."""
    analysis_id = stored_video(app, alice, two_face_video)

    def deleted_meanwhile(analysis, seconds=None):  # gone as the decoding child opened it: it says it cannot
        storage.upload_path(analysis.stored_name).unlink()
        raise CorruptMedia(Phrase("The video cannot be opened: it is cut short or damaged."))
    monkeypatch.setattr(storage, "stored_rgb", deleted_meanwhile)
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 404


HUGE_NUMBERS = [2**63, 2**63 - 1, 2**64, 10**20, 10**400]
CONVERTER_VALUES = {"variant": "original", "method": "occlusion", "fmt": "csv"}


def url_with_every_int_as(rule, number: int) -> str:
    values = {name: number if isinstance(converter, IntegerConverter) else CONVERTER_VALUES.get(name, "x")
              for name, converter in rule._converters.items()}
    return rule.build(values, append_unknown=False)[1]


@pytest.mark.parametrize("number", HUGE_NUMBERS)
def test_every_id_route_answers_4xx_for_ids_no_database_integer_holds(app, client, number):
    from bench.fixtures import csrf_token, login, make_user

    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500, as in production: collect them all
    make_user(app, "root", admin=True)
    login(client, "root")
    token = csrf_token(client, "/analyze")
    rules = [rule for rule in app.url_map.iter_rules()
             if any(isinstance(c, IntegerConverter) for c in rule._converters.values())]
    assert len(rules) >= 15
    failures = []
    for rule in rules:
        url = url_with_every_int_as(rule, number)
        for method in sorted(rule.methods & {"GET", "POST", "DELETE"}):
            response = client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
            if response.status_code >= 500:
                failures.append(f"{method} {url}: {response.status_code}")
    assert not failures, "\n".join(failures)


def test_ids_are_ascii_digits_in_addresses_and_filters(app, client):
    """Python reads any Unicode digit: /api/v1/analyses/\u0661 (an Arabic-Indic one), /analyses/\U0001d7cf (a bold
    one) and ?subject=\uff12 (a fullwidth two) named rows 1 and 2, and DELETE /tokens/\u0666\u0669 revoked token 69."""
    from bench.fixtures import make_user
    from tests.test_api import bearer, create_subject

    make_user(app, "ann")
    ann = bearer(client, "ann")
    rex = create_subject(client, ann, "Rex", "dog").json["id"]
    token_id = client.get("/api/v1/tokens", headers=ann).json["items"][0]["id"]
    assert client.get(f"/api/v1/subjects/{rex}", headers=ann).status_code == 200
    for digits in (str.maketrans("0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"),
                   str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")):
        assert client.get(f"/api/v1/subjects/{str(rex).translate(digits)}", headers=ann).status_code == 404
        assert client.delete(f"/api/v1/tokens/{str(token_id).translate(digits)}", headers=ann).status_code == 404
        listed = client.get(f"/api/v1/analyses?subject={str(rex).translate(digits)}", headers=ann)
        assert listed.status_code == 404 and listed.json["error"].startswith("No subject")
    for spelled in (f"+{rex}", f" {rex}", f"{rex}_0"):
        assert client.get("/api/v1/analyses", query_string={"subject": spelled}, headers=ann).status_code == 404
    assert client.get("/api/v1/tokens", headers=ann).json["items"][0]["id"] == token_id  # still working


def test_the_pages_read_numbers_in_ascii_digits(app, client):
    """/dashboard?subject=\u0661 opened subject 1's dashboard, /analyses?page=\u0663 the third page and a result's
    ?t=\u0663 its moment at 3 s: Python's int() and float() read any Unicode digit. Now such a value is no value."""
    from bench.fixtures import login, make_subject, make_user

    ann = make_user(app, "ann")
    mia = make_subject(app, ann, "Mia")
    login(client, "ann")
    arabic = str(mia).translate(str.maketrans("0123456789", "".join(chr(0x660 + digit) for digit in range(10))))

    def heading(url: str) -> str:
        return client.get(url).get_data(as_text=True).split("<h1")[1].split("</h1>")[0]
    assert "Mia" in heading(f"/dashboard?subject={mia}") and "Mia" not in heading(f"/dashboard?subject={arabic}")


QUERY_URLS = ["/analyses?page={n}", "/analyses?per_page={n}", "/analyses?page=-{n}&per_page=-{n}",
              "/api/v1/analyses?page={n}&per_page={n}", "/api/v1/analyses?page=-{n}",
              "/dashboard?subject={n}", "/dashboard?subject=-{n}", "/subjects/1/report?week=2026-W{n}",
              "/subjects/1/report.png?week={n}-W1", "/admin/admin_users/edit/?id={n}",
              "/admin/admin_users/edit/?id=-{n}", "/admin/admin_analyses/details/?id={n}",
              "/admin/admin_detections/details/?id={n}", "/admin/admin_users/?page={n}",
              "/admin/admin_users/?page=-{n}",
              "/admin/admin_analyses/?page={n}&page_size={n}", "/admin/admin_users/?sort={n}",
              "/admin/admin_analyses/?flt0_0={n}", "/admin/admin_users/?flt0_0={n}",
              "/admin/admin_detections/?flt0_0={n}&flt1_1={n}&page={n}"]


@pytest.mark.parametrize("number", HUGE_NUMBERS)
def test_query_numbers_no_database_integer_holds_are_4xx_or_ignored(app, client, number):
    from bench.fixtures import csrf_token, login, make_user

    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500, as in production: collect them all
    make_user(app, "root", admin=True)
    login(client, "root")
    client.post("/subjects", data={"name": "Rex", "kind": "dog", "csrf_token": csrf_token(client, "/subjects")})
    failures = [url for url in QUERY_URLS if client.get(url.format(n=number)).status_code >= 500]
    token = csrf_token(client, "/analyze")
    for view in ("admin_users", "admin_analyses"):
        for form in ({"id": number}, {"action": "deactivate", "rowid": [number, 1]},
                     {"action": "delete", "rowid": [number]}):
            path = f"/admin/{view}/{'delete' if 'id' in form else 'action'}/"
            if client.post(path, data={**form, "csrf_token": token}).status_code >= 500:
                failures.append(f"POST {path} {form}")
    assert not failures, "\n".join(failures)


def multipart(parts: list[tuple[str, str]], boundary: str = "fuzzboundary") -> bytes:
    """A multipart/form-data body of (part headers, value) pairs."""
    body = "".join(f"--{boundary}\r\n{headers}\r\n\r\n{value}\r\n" for headers, value in parts)
    return (body + f"--{boundary}--\r\n").encode()


def post_multipart(client, path: str, body: bytes):
    return client.post(path, data=body, content_type="multipart/form-data; boundary=fuzzboundary",
                       headers={"X-CSRFToken": "none"})


@pytest.mark.parametrize("path", ["/analyze", "/api/v1/analyses"])
def test_form_limits_are_answered_with_their_true_reason(app, client, alice, path):
    many = multipart([(f'Content-Disposition: form-data; name="f{n}"', "x") for n in range(1001)])
    response = post_multipart(client, path, many)
    assert response.status_code == 413 and "more than 1,000 parts" in response.get_data(as_text=True)

    long_header = multipart([('Content-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
                              "X-Padding: " + "a" * 2_000_000, "x")])
    response = post_multipart(client, path, long_header)
    assert response.status_code == 413 and "part header larger than 500 KB" in response.get_data(as_text=True)

    app.config["MAX_CONTENT_LENGTH"] = 1000
    huge = multipart([('Content-Disposition: form-data; name="file"; filename="a.jpg"', "x" * 5000)])
    response = post_multipart(client, path, huge)
    assert response.status_code == 413 and "larger than the 0.000954 MB limit" in response.get_data(as_text=True)


def test_a_two_megabyte_http_header_is_refused_by_the_production_server_with_431(tmp_path):
    """The server, not the app, reads the request's headers: gunicorn answers 431 (so does `flask run`)."""
    import socket

    from bench.server import AppServer, prepare_instance

    instance = tmp_path / "instance"
    prepare_instance(instance, "owner", "owner password")
    request = b"GET /login HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 2_000_000 + b"\r\n\r\n"
    with AppServer(instance, {"RATELIMIT_ENABLED": False}, workers=1) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
            connection.sendall(request)
            status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"431", status_line


@pytest.mark.parametrize("body", ["[" * 100_000 + "]" * 100_000, "[1]", '"x"', '{"username": {"a": 1}, "name": [1]}'])
def test_json_posted_to_a_pages_form_is_no_data_not_a_500(app, client, alice, body):
    """Flask-WTF reads a JSON body as a form's data: nested too deep, a list or an object for a text field raised."""
    from bench.fixtures import csrf_token

    app.config["PROPAGATE_EXCEPTIONS"] = False
    token = csrf_token(client, "/subjects")
    for path in ("/subjects", "/analyze", "/password", "/login"):
        response = client.post(path, data=body, content_type="application/json", headers={"X-CSRFToken": token})
        assert response.status_code < 500, (path, response.status_code)


@pytest.mark.parametrize("host", ["a..b", "a" * 64 + ".com"])
def test_a_host_header_werkzeug_refuses_is_a_plain_400_not_a_500(app, client, host):
    """No URL can be built for such a host, and the error page builds URLs (its style sheet): a 500."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    for path in ("/login", "/", "/dashboard"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400 and response.mimetype == "text/plain", path
    assert client.get("/api/v1/analyses", headers={"Host": host}).get_json()["error"]


@pytest.mark.parametrize("path", ["/analyses?name=a%00b", "/admin/admin_users/?search=a%00b",
                                  "/admin/admin_analyses/?flt0_0=a%00b", "/analyses?na%00me=x"])
def test_a_nul_character_in_a_query_is_a_400_not_a_database_error(app, path):
    """PostgreSQL's text cannot hold NUL: a search or back-office filter with one was a 500 there (SQLite ran it)."""
    from bench.fixtures import login, make_user

    make_user(app, "boss", admin=True)
    client = app.test_client()
    login(client, "boss")
    refused = client.get(path)
    assert refused.status_code == 400 and "NUL character" in refused.get_data(as_text=True)


def test_a_nul_character_in_an_api_query_is_a_400_in_json(app, client, alice):
    from tests.test_api import basic

    token = client.post("/api/v1/tokens", headers=basic("alice")).json["token"]
    listed = client.get("/api/v1/analyses?name=%00", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 400 and "NUL character" in listed.json["error"]
