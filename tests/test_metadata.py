"""Uploads are stored without their metadata: a photo without its location, camera, comment, XMP or pictures after
it, its orientation and colour profile kept, not a pixel re-encoded (inference/photo_metadata.py); an MP4's or MOV's
metadata boxes blanked in place (inference/movie_metadata.py)."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from PIL.PngImagePlugin import PngInfo

from extensions import db
from inference.container_metadata import blank_container_metadata
from inference.errors import MediaTooLarge
from inference.images import decode_image
from inference.movie_metadata import blank_metadata
from inference.photo_metadata import png_chunk, without_private_metadata
from models import Analysis
from services import maintenance
from services.analyses import delete_analysis
from services.storage import upload_path
from tests.conftest import DATA, upload, upload_files

GPS_IFD, MAKE, ORIENTATION = 0x8825, 0x010F, 0x0112
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description exif:GPSLatitude="37,33.5N"/></x:xmpmeta>'
PRIVATE = (b"GPSLatitude", b"PhoneMaker", b"secret note", b"37,33.5N")


def camera_exif(orientation: int) -> bytes:
    """A phone's EXIF: where (GPS), with what (the maker), and how to turn the picture."""
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (37.0, 33.0, 30.0), 3: "E", 4: (126.0, 58.0, 2.0)}
    return exif.tobytes()


def photo() -> Image.Image:
    rng = np.random.default_rng(7)
    return Image.fromarray((rng.random((48, 64, 3)) * 255).astype(np.uint8))


def saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def kept_of(data: bytes) -> bytes:
    decoded = decode_image(data)
    kept = without_private_metadata(data, decoded.orientation)
    assert kept is not None
    again = decode_image(kept)
    assert np.array_equal(again.rgb, decoded.rgb)  # the same upright pixels: nothing re-encoded, turned alike
    assert again.orientation == decoded.orientation and again.format == decoded.format
    assert without_private_metadata(kept, again.orientation) is None  # nothing left to leave out
    return kept


def test_a_phone_jpeg_keeps_its_orientation_and_colour_profile_and_nothing_else():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    second_picture = photo().resize((32, 24))
    data = saved(photo(), "MPO", save_all=True, append_images=[second_picture], exif=camera_exif(6),
                 icc_profile=profile, comment=b"secret note", xmp=XMP)
    kept = kept_of(data)
    assert not any(private in kept for private in PRIVATE)
    assert kept.count(b"\xff\xd8") == 1 and b"MPF" not in kept  # the picture after the photo is gone
    opened = Image.open(io.BytesIO(kept))
    assert opened.format == "JPEG" and opened.info["icc_profile"] == profile
    assert dict(opened.getexif()) == {ORIENTATION: 6}
    assert decode_image(data).orientation == 6


@pytest.mark.parametrize("progressive", [False, True])
def test_an_upright_jpeg_gets_no_exif_at_all(progressive):
    kept = kept_of(saved(photo(), "JPEG", exif=camera_exif(1), progressive=progressive))
    assert b"Exif" not in kept and not any(private in kept for private in PRIVATE)


def test_a_motion_photo_s_video_after_the_picture_is_not_kept():
    data = saved(photo(), "JPEG", exif=camera_exif(1)) + b"\x00\x00\x00\x18ftypmp42 a video with GPSLatitude"
    kept = kept_of(data)
    assert kept.endswith(b"\xff\xd9") and b"ftyp" not in kept


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


ODD_ENDINGS = {"metadata after the scan, no end of image": jpeg_segment(0xE1, b"Exif\x00\x00GPSLatitude") + bytes(100),
               "a scan's header cut short": b"\xff\xda\x00", "a table's header cut short": b"\xff\xdb\x00",
               "a bare scan marker": b"\xff\xda", "an EXIF's header cut short": b"\xff\xe1\x00"}


@pytest.mark.parametrize("odd", ["a segment that says it is 0 bytes long", *ODD_ENDINGS])
def test_odd_jpegs_that_decode_are_kept_as_they_decode(odd):
    """Found by fuzzing the rewriting, and by a review: the segments walked as the decoders walk them (a length under
    2 read as 2); an end of image added where the picture's end was a segment left out, or cut short."""
    jpeg = saved(photo(), "JPEG", exif=camera_exif(6))
    if odd in ODD_ENDINGS:
        data = jpeg[:-2] + ODD_ENDINGS[odd]
    else:
        data = jpeg[:2] + b"\xff\xe5\x00\x00" + jpeg[2:]
    assert b"GPSLatitude" not in kept_of(data)


@pytest.mark.parametrize("stray", [b"\xff\x9c", b"\xff\xef\x00\x02"], ids=["a reserved marker", "an empty APP15"])
def test_a_stray_marker_among_a_scan_s_restart_intervals_is_kept_as_it_decodes(stray):
    """Found by a probe: libjpeg resynchronises at the next restart marker and decodes on, so the picture is kept
    byte for byte from its first scan (the walk stopped at the stray marker and kept the top strip)."""
    clean = saved(photo().resize((320, 240)), "JPEG", quality=90, restart_marker_rows=1, exif=camera_exif(3))
    third_restart = clean.index(b"\xff\xd2")
    kept = kept_of(clean[:third_restart] + stray + clean[third_restart:])
    assert len(kept) > len(clean) - 300 and b"PhoneMaker" not in kept


def test_only_what_shows_the_picture_is_kept_whatever_a_maker_adds():
    """What is kept is listed, not what is left out: a PNG's private chunk (C2PA's caBX), a WebP's unknown chunk, an
    APP0 that is not JFIF's, bytes after a simple WebP's RIFF all go."""
    png = saved(photo(), "PNG")
    png = png[:33] + png_chunk(b"caBX", b"signed GPSLatitude") + png[33:]
    assert b"caBX" not in kept_of(png)
    webp = saved(photo(), "WEBP", exif=camera_exif(1))
    webp = webp[:4] + struct.pack("<I", len(webp) + 4) + webp[8:] + b"C2PA" + struct.pack("<I", 4) + b"GPSL"
    assert b"C2PA" not in kept_of(webp)
    jpeg = saved(photo(), "JPEG")
    assert b"GPSLatitude" not in kept_of(jpeg[:2] + jpeg_segment(0xE0, b"GPSLatitude") + jpeg[2:])
    jfif = jpeg.index(b"JFIF\x00") - 4  # JFIF's header, with a 2 x 1 thumbnail of an uncropped photo after it
    with_thumbnail = jpeg_segment(0xE0, jpeg[jfif + 4:jfif + 16] + b"\x02\x01" + b"GPSLatitude!")
    kept = kept_of(jpeg[:jfif] + with_thumbnail + jpeg[jfif + 18:])
    assert kept[:jfif + 18] == jpeg[:jfif + 18]  # the header as Pillow writes it: no thumbnail
    simple = saved(photo(), "WEBP")
    assert kept_of(simple + b"GPSLatitude") == simple


def test_a_png_loses_its_text_exif_and_time_and_keeps_its_orientation():
    info = PngInfo()
    info.add_text("Comment", "secret note")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    data = saved(photo(), "PNG", exif=camera_exif(8), pnginfo=info)
    data = data[:-12] + png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 12, 7, 12, 0, 0)) + data[-12:]
    kept = kept_of(data)
    assert not any(private in kept for private in PRIVATE) and b"tIME" not in kept
    assert dict(Image.open(io.BytesIO(kept)).getexif()) == {ORIENTATION: 8}


def test_a_webp_loses_its_exif_and_xmp():
    kept = kept_of(saved(photo(), "WEBP", exif=camera_exif(3), xmp=XMP, lossless=True))
    assert not any(private in kept for private in PRIVATE)
    assert dict(Image.open(io.BytesIO(kept)).getexif()) == {ORIENTATION: 3}
    assert struct.unpack("<I", kept[4:8])[0] == len(kept) - 8


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "BMP"])
def test_a_photo_without_metadata_is_kept_as_sent(fmt):
    data = saved(photo(), fmt)
    assert without_private_metadata(data, decode_image(data).orientation) is None


def test_an_uploaded_photo_is_stored_without_its_location_and_found_again_by_its_bytes(app, client, alice):
    sent = (DATA / "people-with-a-cat.jpg").read_bytes()
    scene = Image.open(io.BytesIO(sent))
    data = saved(scene, "JPEG", quality=90, exif=camera_exif(1), xmp=XMP)
    first, second = upload(client, data, "IMG_0001.JPG"), upload(client, data, "IMG_0001.JPG")
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"]  # the same file sent again: one analysis
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.format == "jpeg" and len(analysis.detections) >= 2
        analysis_id = analysis.id
    original = client.get(f"/analyses/{analysis_id}/original")
    assert original.status_code == 200 and "IMG_0001.JPG" in original.headers["Content-Disposition"]
    assert not any(private in original.data for private in PRIVATE)
    assert np.array_equal(decode_image(original.data).rgb, decode_image(data).rgb)


def stored_before(app) -> None:
    """Every analysis as an earlier version stored it: its metadata not known to be left out."""
    with app.app_context():
        db.session.execute(db.update(Analysis).values(metadata_left_out=None))
        db.session.commit()


def test_photos_stored_before_are_stored_again_without_their_metadata(app, client, alice):
    with_location = saved(photo(), "JPEG", exif=camera_exif(6), xmp=XMP)
    assert upload(client, with_location, "old.jpg").status_code == 302
    assert upload(client, saved(photo().resize((80, 60)), "PNG"), "plain.png").status_code == 302
    with app.app_context():
        stored = [upload_path(name) for name in db.session.scalars(db.select(Analysis.stored_name)
                                                                   .order_by(Analysis.id))]
    stored[0].write_bytes(with_location)  # as a version that stored photos as sent had stored it, readable by all
    stored[0].chmod(0o644)
    stored_before(app)
    plain = stored[1].read_bytes()
    result = app.test_cli_runner().invoke(args=["maintenance", "metadata"])
    assert result.exit_code == 0 and "Uploads looked at: 2; stored again without their metadata: 1" in result.output
    rewritten = stored[0].read_bytes()
    assert not any(private in rewritten for private in PRIVATE) and stored[1].read_bytes() == plain
    assert np.array_equal(decode_image(rewritten).rgb, decode_image(with_location).rgb)
    assert [path.stat().st_mode & 0o777 for path in stored] == [0o600, 0o600]
    result = app.test_cli_runner().invoke(args=["maintenance", "metadata"])  # each once: the set-up runs it each start
    assert "Uploads looked at: 0; stored again without their metadata: 0" in result.output


def test_uploads_stored_since_are_never_read_by_the_command(app, client, alice):
    assert upload(client, saved(photo(), "JPEG"), "new.jpg").status_code == 302
    with app.app_context():
        stored = upload_path(db.session.scalar(db.select(Analysis.stored_name)))
    stored.write_bytes(saved(photo(), "JPEG", exif=camera_exif(6), xmp=XMP))  # not as this version stores it
    result = app.test_cli_runner().invoke(args=["maintenance", "metadata"])
    assert "Uploads looked at: 0; stored again without their metadata: 0" in result.output


def test_the_command_reads_photos_over_today_s_pixel_limit_and_says_which_it_could_not_read(app, client, alice):
    with_location = saved(photo(), "JPEG", exif=camera_exif(6), xmp=XMP)
    for name in ("old.jpg", "gone.jpg"):
        assert upload(client, with_location + name.encode(), name).status_code == 302
    with app.app_context():
        kept, gone = [upload_path(name) for name in db.session.scalars(db.select(Analysis.stored_name)
                                                                     .order_by(Analysis.id))]
    kept.write_bytes(with_location)
    gone.unlink()
    stored_before(app)
    app.config["MAX_IMAGE_PIXELS"] = 100  # lowered since the photo was stored
    result = app.test_cli_runner().invoke(args=["maintenance", "metadata"])
    assert f"not read (gone or not decodable), left as it was: {gone}" in result.output
    assert "Uploads looked at: 2; stored again without their metadata: 1" in result.output
    again = app.test_cli_runner().invoke(args=["maintenance", "metadata"])  # the one not read is told again
    assert f"left as it was: {gone}" in again.output and "Uploads looked at: 1;" in again.output
    assert not any(private in kept.read_bytes() for private in PRIVATE)
    assert decode_image(kept.read_bytes()).orientation == 6


def test_a_photo_deleted_while_the_command_rewrites_it_does_not_come_back(app, client, alice, monkeypatch):
    assert upload(client, saved(photo(), "JPEG"), "old.jpg").status_code == 302
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        path = upload_path(analysis.stored_name)
    path.write_bytes(saved(photo(), "JPEG", exif=camera_exif(6), xmp=XMP))
    stored_before(app)
    reading = maintenance.stored_orientation

    def deleted_meanwhile(data: bytes) -> int:  # the owner deletes the photo while the command reads it
        delete_analysis(db.session.get(Analysis, analysis.id))
        db.session.commit()
        return reading(data)
    monkeypatch.setattr(maintenance, "stored_orientation", deleted_meanwhile)
    with app.app_context():
        assert maintenance.leave_out_stored_metadata().changed == 1
    assert not path.exists() and upload_files(app) == []


LOCATION = "+37.5665+126.9780/"


def filmed_with_metadata(source: Path, path: Path, *options: str) -> Path:
    """`source`'s streams copied into `path` with a phone's location and a title (in udta, or in Apple's keys in a
    meta box with `-movflags use_metadata_tags`)."""
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(source), "-c", "copy", "-metadata",
                    f"location={LOCATION}", "-metadata", "title=secret note", *options, str(path)], check=True)
    return path


def frame_digests(path: Path) -> list[str]:
    listing = subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                             check=True, capture_output=True, text=True).stdout
    return [line.rsplit(",", 1)[-1].strip() for line in listing.splitlines() if not line.startswith("#")]


@pytest.mark.parametrize("name, options", [("clip.mov", ()), ("keys.mov", ("-movflags", "use_metadata_tags")),
                                           ("keys.mp4", ("-movflags", "use_metadata_tags")),
                                           ("fast.mp4", ("-movflags", "+faststart+use_metadata_tags"))])
def test_a_video_s_metadata_is_blanked_and_every_frame_decodes_as_before(tmp_path, two_face_video, name, options):
    path = filmed_with_metadata(two_face_video, tmp_path / name, *options)
    before, size = frame_digests(path), path.stat().st_size
    assert LOCATION.encode() in path.read_bytes()
    assert blank_metadata(path) >= 1
    blanked = path.read_bytes()
    assert LOCATION.encode() not in blanked and b"secret note" not in blanked
    assert len(blanked) == size and frame_digests(path) == before
    assert blank_metadata(path) == 0  # nothing left


def iso_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload) + 8) + kind + payload


def test_xmp_and_metadata_at_the_top_and_the_recording_time_are_blanked(tmp_path, two_face_video):
    recorded = ("-metadata", "creation_time=2024-05-01T10:23:45Z")
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov", *recorded)
    data = path.read_bytes()
    movie = data.rindex(b"moov") - 4
    assert movie + int.from_bytes(data[movie:movie + 4], "big") == len(data)  # the movie box last: it can grow
    xmp = iso_box(b"uuid", bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC") + XMP)
    data = (data[:movie] + struct.pack(">I", len(data) - movie + len(xmp)) + data[movie + 4:] + xmp
            + iso_box(b"udta", iso_box(b"\xa9xyz", LOCATION.encode())))
    path.write_bytes(data)
    before = frame_digests(path)
    assert blank_metadata(path) >= 4  # the two added, the movie's user data, its header's times...
    blanked = path.read_bytes()
    assert b"xmpmeta" not in blanked and LOCATION.encode() not in blanked and len(blanked) == len(data)
    assert frame_digests(path) == before
    tags = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "json",
                           str(path)], check=True, capture_output=True, text=True).stdout
    assert "2024" not in tags and "creation_time" not in tags


def test_positions_in_a_subtitle_track_are_zeroed_and_the_picture_plays_as_before(tmp_path, two_face_video):
    """A drone or a dash-cam writes its positions as subtitles, a frame at a time (a probe's finding)."""
    positions = tmp_path / "gps.srt"
    positions.write_text("".join(f"{n}\n00:00:0{n - 1},000 --> 00:00:0{n},000\nGPS(37.5583,126.967{n},10)\n\n"
                                 for n in (1, 2, 3)))
    path = tmp_path / "drone.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(two_face_video), "-i", str(positions), "-map", "0",
                    "-map", "1", "-c", "copy", "-c:s", "mov_text", str(path)], check=True)
    before = frame_digests(path)
    assert path.read_bytes().count(b"GPS(37.5583") == 3
    assert blank_metadata(path) >= 3
    assert b"GPS(37.5583" not in path.read_bytes() and frame_digests(path) == before


def test_a_makers_boxes_a_dash_cam_s_date_and_a_trailer_are_blanked(tmp_path, two_face_video):
    """A second probe's realistic files: Canon's `uuid` in the movie box (make, model, GPS), a dash-cam's top-level
    `IDIT` date, an action camera's trailer after the last box. Only the boxes a movie is made of are kept."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    data = path.read_bytes()
    movie = data.rindex(b"moov") - 4
    canon = iso_box(b"uuid", bytes.fromhex("85c0b687820f11e08111f4ce462b6a48") + iso_box(b"CMT1", b"Canon SECRET"))
    data = (data[:movie] + struct.pack(">I", len(data) - movie + len(canon)) + data[movie + 4:] + canon
            + iso_box(b"IDIT", b"2026:01:02 12:35:19 SECRET\x00") + b"\x00\x00\x00\x00trailer with SECRET GPS")
    path.write_bytes(data)
    before = frame_digests(path)
    assert blank_metadata(path) >= 3
    blanked = path.read_bytes()
    assert b"SECRET" not in blanked and len(blanked) == len(data) and frame_digests(path) == before


def test_an_upload_whose_movie_box_holds_more_boxes_than_a_movie_is_refused(app, client, alice, tmp_path,
                                                                            two_face_video):
    """A probe's 500,000 empty user data boxes in the movie box took seconds to walk: past 20,000 it is a 413, and
    nothing is kept of it."""
    data = filmed_with_metadata(two_face_video, tmp_path / "clip.mov").read_bytes()
    movie = data.rindex(b"moov") - 4
    padding = iso_box(b"udta", b"") * 20_001
    data = data[:movie] + struct.pack(">I", len(data) - movie + len(padding)) + data[movie + 4:] + padding
    response = upload(client, data, "many.mov")
    assert response.status_code == 413 and "more than 20,000 boxes" in response.get_data(as_text=True)
    assert upload_files(app) == []


def movie_last_with(path: Path, *children: bytes) -> bytes:
    """The file at `path` (its movie box last) with `children` added at the end of its movie box."""
    data = path.read_bytes()
    movie = data.rindex(b"moov") - 4
    added = b"".join(children)
    return data[:movie] + struct.pack(">I", len(data) - movie + len(added)) + data[movie + 4:] + added


@pytest.mark.parametrize("odd", ["nested 12 deep", "a gps index of 100,001 blocks"])
def test_an_index_a_camera_does_not_write_is_refused_before_a_byte_is_changed(tmp_path, two_face_video, odd):
    """A third probe: 1,500 nested boxes hit Python's recursion limit (a 500); two million index entries took
    seconds and 1.8 GB. Both are refused (a 413) with nothing written."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    if odd.startswith("nested"):
        nested = b"deep"
        for _ in range(12):
            nested = iso_box(b"dinf", nested)
        data = movie_last_with(path, iso_box(b"trak", iso_box(b"mdia", nested)))
    else:
        data = movie_last_with(path, iso_box(b"gps ", struct.pack(">II", 0x101, 100_001) + bytes(8) * 100_001))
    path.write_bytes(data)
    with pytest.raises(MediaTooLarge):
        blank_metadata(path)
    assert path.read_bytes() == data


def test_a_dash_cam_s_positions_are_zeroed_where_no_index_names_them(tmp_path, two_face_video):
    """Some dash cams write `freeGPS` blocks among the media data with no index of them."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    block = iso_box(b"free", b"GPS " + b"$GPRMC,123519,A,3733.498,N,12658.032,E" + bytes(64))
    data = path.read_bytes() + block
    path.write_bytes(data)
    before = frame_digests(path)
    assert blank_metadata(path) >= 1
    blanked = path.read_bytes()
    assert b"GPRMC" not in blanked and blanked.endswith(b"free" + bytes(len(block) - 8))
    assert frame_digests(path) == before


def test_a_picture_track_whose_handler_says_metadata_is_left_alone(tmp_path, two_face_video):
    """FFmpeg decodes a track by its samples' format, whatever its handler says: `avc1` samples are pictures."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    data = bytearray(path.read_bytes())
    handler = data.index(b"vide", data.index(b"hdlr"))
    data[handler:handler + 4] = b"meta"
    path.write_bytes(bytes(data))
    before = frame_digests(path)
    blank_metadata(path)
    assert frame_digests(path) == before


def test_a_box_named_like_metadata_that_holds_the_pictures_is_left_alone(tmp_path, two_face_video):
    """A probe's crafted file: its samples in a top-level box named `udta` (FFmpeg reads samples wherever the index
    points) were zeroed, and its analysis found no frame."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    data = path.read_bytes()
    samples = data.index(b"mdat")
    path.write_bytes(data[:samples] + b"udta" + data[samples + 4:])
    before = frame_digests(path)
    assert blank_metadata(path) >= 1  # the movie's own user data still
    blanked = path.read_bytes()
    assert blanked[samples:samples + 4] == b"udta" and frame_digests(path) == before


def test_a_metadata_box_running_past_its_movie_box_is_blanked_to_the_movie_s_end_only(tmp_path, two_face_video):
    """FFmpeg reads a child that says it is longer than its parent as ending with it, and so is it blanked: not a
    byte past the parent."""
    path = filmed_with_metadata(two_face_video, tmp_path / "clip.mov")
    data = bytearray(path.read_bytes())
    user_data = data.index(b"udta") - 4
    data[user_data:user_data + 4] = (10**6).to_bytes(4, "big")  # says it holds a megabyte: past the movie box
    after = iso_box(b"free", b"the box after the movie")
    path.write_bytes(bytes(data) + after)
    assert blank_metadata(path) >= 1
    blanked = path.read_bytes()
    assert LOCATION.encode() not in blanked and blanked.endswith(after) and len(blanked) == len(data) + len(after)


def container_tags(path: Path) -> str:
    return subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format_tags:stream_tags", "-of", "compact",
                           str(path)], check=True, capture_output=True, text=True).stdout


@pytest.mark.parametrize("name", ["clip.mkv", "clip.avi"])
def test_a_matroska_or_avi_video_s_tags_and_dates_are_blanked_and_every_frame_decodes_as_before(tmp_path,
                                                                                               two_face_video, name):
    """A Matroska file's tags (a location, a title: Void elements now) and its Info's date and writing applications;
    an AVI's INFO list (a JUNK chunk now)."""
    path = filmed_with_metadata(two_face_video, tmp_path / name, "-metadata", "creation_time=2026-05-01T10:00:00Z")
    before, size = frame_digests(path), path.stat().st_size
    assert b"secret note" in path.read_bytes() and "secret note" in container_tags(path)
    assert blank_container_metadata(path, 120) >= 1
    blanked = path.read_bytes()
    assert LOCATION.encode() not in blanked and b"secret note" not in blanked and b"Lavf" not in blanked
    assert len(blanked) == size and frame_digests(path) == before
    assert "tag:" not in container_tags(path)
    assert blank_container_metadata(path, 120) == 0  # nothing left


@pytest.mark.parametrize("name", ["clip.mkv", "clip.avi"])
def test_chapter_titles_and_a_track_s_name_are_blanked_too(tmp_path, two_face_video, name):
    """A probe's mkvmerge file kept "At Jane's house" as a chapter's title and "Camera of Jane Doe" as its track's
    name (an AVI: as its stream's strn), both shown by ffprobe."""
    chapters = tmp_path / "chapters.txt"
    chapters.write_text(";FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=0\nEND=1000\ntitle=At Jane's house\n")
    path = tmp_path / name
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(two_face_video), "-i", str(chapters), "-map", "0",
                    "-map_chapters", "1", "-c", "copy", "-metadata:s:v:0", "title=Camera of Jane Doe", str(path)],
                   check=True)
    before = frame_digests(path)
    shown = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "chapter_tags:stream_tags", "-of", "compact",
                            str(path)], check=True, capture_output=True, text=True).stdout
    assert "Jane Doe" in shown and ("Jane's house" in shown or name.endswith(".avi"))  # AVI has no chapters
    assert blank_container_metadata(path, 120) >= 1
    assert b"Jane" not in path.read_bytes() and frame_digests(path) == before


def test_an_uploaded_video_is_stored_without_its_location(app, client, alice, tmp_path, two_face_video):
    data = filmed_with_metadata(two_face_video, tmp_path / "clip.mov").read_bytes()
    response = upload(client, data, "IMG_0002.MOV")
    assert response.status_code == 302
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.format == "mov" and analysis.duration and analysis.shown_count >= 1
        stored = upload_path(analysis.stored_name).read_bytes()
    assert LOCATION.encode() not in stored and len(stored) == len(data)
    assert upload(client, data, "IMG_0002.MOV").headers["Location"] == response.headers["Location"]  # found again


def test_an_uploaded_matroska_video_is_stored_without_its_tags(app, client, alice, tmp_path, two_face_video):
    data = filmed_with_metadata(two_face_video, tmp_path / "clip.mkv").read_bytes()
    assert upload(client, data, "trip.mkv").status_code == 302
    with app.app_context():
        stored = upload_path(db.session.scalars(db.select(Analysis.stored_name)).one()).read_bytes()
    assert b"secret note" not in stored and LOCATION.encode() not in stored and len(stored) == len(data)


@pytest.mark.parametrize("name", ["clip.mov", "clip.mkv"])
def test_videos_stored_before_are_blanked_by_the_maintenance_command(app, client, alice, tmp_path, two_face_video,
                                                                     name):
    data = filmed_with_metadata(two_face_video, tmp_path / name).read_bytes()
    assert upload(client, data, name).status_code == 302
    with app.app_context():
        stored = upload_path(db.session.scalars(db.select(Analysis.stored_name)).one())
    stored.write_bytes(data)  # as a version that stored videos as sent had stored it
    stored_before(app)
    result = app.test_cli_runner().invoke(args=["maintenance", "metadata"])
    assert "Uploads looked at: 1; stored again without their metadata: 1" in result.output
    assert LOCATION.encode() not in stored.read_bytes() and stored.stat().st_size == len(data)


@pytest.mark.parametrize("fmt", ["PNG", "WebP"])
def test_a_file_of_more_chunks_than_a_photo_has_is_refused_before_it_is_read(fmt):
    """A probe's 10 MB WebP of 1.3 million empty chunks took 0.9 s and 290 MB to rewrite."""
    empty = png_chunk(b"tEXt", b"") if fmt == "PNG" else b"JUNK" + bytes(4)
    data = saved(photo(), fmt.upper())
    if fmt == "PNG":
        data = data[:33] + empty * 100_001 + data[33:]
    else:
        data = data[:4] + struct.pack("<I", len(data) - 8 + len(empty) * 100_001) + data[8:] + empty * 100_001
    with pytest.raises(MediaTooLarge, match="more than 100,000 chunks"):
        decode_image(data)


def test_a_webps_header_no_longer_says_it_holds_xmp():
    """Mutant 60 (only the EXIF flag cleared): the stored WebP's VP8X header still said an XMP chunk follows, which
    it no longer holds."""
    kept = kept_of(saved(photo(), "WEBP", exif=camera_exif(3), xmp=XMP, lossless=True))
    assert kept[12:16] == b"VP8X" and not kept[20] & 0x04 and kept[20] & 0x08  # XMP's flag off, EXIF's on
