"""Hostile and broken uploads: each gets a clear 4xx (or a sane result), never a 500, never leftovers."""

from __future__ import annotations

import io
import re
import struct
import zlib

import numpy as np
import pytest
from PIL import Image, ImageCms

from bench.fixtures import csrf_token
from bench.upload_memory import png_chunk
from extensions import db
from models import Analysis
from services.analyses import clean_original_name
from tests.conftest import jpeg_bytes, upload, upload_files


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's calling card)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + \
        png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b"")


def dds_unknown_pixel_format() -> bytes:
    """A DDS texture whose pixel format Pillow's DDS plugin cannot handle (it raised NotImplementedError: a 500)."""
    header = bytearray(124)
    struct.pack_into("<7I", header, 0, 124, 0x1007, 64, 64, 0, 0, 0)
    struct.pack_into("<2I", header, 72, 32, 0)
    return b"DDS " + bytes(header) + bytes(64 * 64 * 4)


def rle8_bmp(width: int, height: int) -> bytes:
    """A run-length BMP (Pillow decodes it in Python, a pixel at a time): each row one pixel, then end of line."""
    palette = bytes(4 * 256)
    body = b"\x01\x07\x00\x00" * height + b"\x00\x01"
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body


def jpeg_with_repeated_scans(copies: int, stray_byte: bool = False) -> bytes:
    """A progressive JPEG whose last scan is repeated: each copy is a pass over every block of the image. With a
    `stray_byte` before its first table (Pillow and libjpeg skip it; a count of the scans that stopped there let
    thousands through)."""
    photo = encoded(Image.new("RGB", (64, 64), (120, 140, 160)), "JPEG", progressive=True)
    if stray_byte:
        photo = photo.replace(b"\xff\xdb", b"\x00\xff\xdb", 1)
    last_scan = photo[photo.rindex(b"\xff\xda"):-2]
    return photo[:-2] + last_scan * copies + b"\xff\xd9"


def jpeg_with_empty_segments(count: int, marker: bytes = b"\xe5") -> bytes:
    """A small JPEG with `count` empty segments after its start of image (Pillow keeps each one: millions of them in
    10 MB cost +306 MB)."""
    photo = encoded(Image.new("RGB", (64, 64), (120, 140, 160)), "JPEG")
    return photo[:2] + (b"\xff" + marker + b"\x00\x02") * count + photo[2:]


def webp_canvas_only(width: int, height: int) -> bytes:
    """The first chunk of an extended WebP claiming a width x height canvas (Pillow's decoder allocates it)."""
    chunk = b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little") + \
        (height - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def png_with_metadata(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A small PNG with the chunks (kind, payload) after its header."""
    png = encoded(Image.new("RGB", (64, 48), (200, 120, 60)), "PNG")
    return png[:33] + b"".join(png_chunk(kind, payload) for kind, payload in chunks) + png[33:]


EMOJI_TEXT = zlib.compress(("\U0001f600" + "a" * 999_000).encode())  # 1 MB unpacked, 4 bytes a character in Python
REFUSED = {
    "zero bytes": (b"", 400),
    "html renamed .jpg": (b"<!doctype html><html><script>alert(1)</script></html>", 415),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', 415),
    "pdf": (b"%PDF-1.7\n1 0 obj<<>>endobj\n", 415),
    "gif": (None, 415),
    "bomb 30000x30000 png": (png_header_only(30000, 30000), 413),
    "8000x8000 png over the pixel limit": (png_header_only(8000, 8000), 413),
    "png 70000 pixels wide": (png_header_only(70000, 2), 413),
    "1x1 png": (None, 400),
    "heic with no picture": (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), 400),
    "tiff": (None, 415),
    "dds": (dds_unknown_pixel_format(), 415),
    "rle bmp": (rle8_bmp(640, 480), 415),
    "jpeg of 120 scans": (jpeg_with_repeated_scans(120), 413),
    "jpeg of 120 scans after a stray byte": (jpeg_with_repeated_scans(120, stray_byte=True), 413),
    "jpeg of 2000 empty APP5 segments": (jpeg_with_empty_segments(2000), 413),
    "jpeg of 2000 empty comments": (jpeg_with_empty_segments(2000, b"\xfe"), 413),
    "webp canvas over its limit": (webp_canvas_only(6000, 6000), 413),
    "png with a 2 MB iCCP": (png_with_metadata([(b"iCCP", b"profile\0\0" + zlib.compress(bytes(2_000_000)))]), 413),
    "png with a 2 MB zTXt": (png_with_metadata([(b"zTXt", b"comment\0\0" + zlib.compress(bytes(2_000_000)))]), 413),
    "png with 3 MB of emoji text": (png_with_metadata(
        [(b"iTXt", b"note%d\0\1\0\0\0" % number + EMOJI_TEXT) for number in range(3)]), 413),
}
NAMED = {"heic with no picture": "The photo could not be decoded", "tiff": "TIFF images are not supported",
         "rle bmp": "Compressed (RLE) BMP", "jpeg of 120 scans": "more than 100 scans",
         "jpeg of 120 scans after a stray byte": "more than 100 scans",
         "png 70000 pixels wide": "its sides may be at most 65535 pixels long",
         "jpeg of 2000 empty APP5 segments": "The JPEG has more than 1000 segments (a photo has a few dozen)",
         "jpeg of 2000 empty comments": "The JPEG has more than 1000 segments (a photo has a few dozen)",
         "webp canvas over its limit": "the limit for WebP is 20 megapixels",
         **dict.fromkeys(("png with a 2 MB iCCP", "png with a 2 MB zTXt", "png with 3 MB of emoji text"),
                         "The PNG holds more metadata (text or a colour profile) than a photo does")}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_uploads(app, client, alice, name):
    content, status = REFUSED[name]
    if name == "gif":
        content = encoded(Image.new("RGB", (64, 64), "red"), "GIF")
    if name == "1x1 png":
        content = encoded(Image.new("RGB", (1, 1)), "PNG")
    if name == "tiff":
        content = encoded(Image.new("RGB", (64, 64), "red"), "TIFF")
    response = upload(client, content, "upload.jpg")
    assert response.status_code == status
    assert 'class="field-error"' in response.get_data(as_text=True)
    assert NAMED.get(name, "") in response.get_data(as_text=True)
    if status != 413:  # read and refused: the reason names the file (the answer's file picker is empty)
        assert re.search(r'class="field-error"[^>]*>upload\.jpg: ', response.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def test_a_progressive_jpeg_with_a_few_repeated_scans_is_still_read(client, alice):
    response = upload(client, jpeg_with_repeated_scans(20), "scans.jpg")
    assert response.status_code == 302


def test_a_phone_photo_with_much_metadata_is_still_read(client, alice, astronaut):
    """EXIF, an ICC profile, an MPF index and 9.8 MB of XMP (an edited photo's history) in 150 segments: within the
    segment limit, and their bytes cost about their size."""
    exif = Image.Exif()
    exif[0x0112] = 6
    photo = Image.fromarray(astronaut)
    phone = encoded(photo, "MPO", save_all=True, append_images=[photo.resize((128, 128))], exif=exif,
                    icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + bytes(65_533 - 29)
    response = upload(client, phone[:2] + (b"\xff\xe1\xff\xff" + xmp) * 150 + phone[2:], "phone.jpg")
    assert response.status_code == 302
    assert "Face 1:" in client.get(response.location).get_data(as_text=True)


def test_a_motion_photo_is_read_whatever_follows_its_picture(client, alice, astronaut):
    """A phone's motion photo carries a video of several MB after the picture's end: its bytes are not scans."""
    video_like = np.random.default_rng(0).integers(0, 256, 3_000_000, np.uint8).tobytes()
    assert video_like.count(b"\xff\xda") > 20
    response = upload(client, jpeg_bytes(astronaut) + video_like, "motion.jpg")
    assert response.status_code == 302


def test_jpeg_polyglot_with_trailing_html_is_stored_but_served_as_an_image(client, alice, astronaut):
    polyglot = jpeg_bytes(astronaut) + b"<html><script>alert(document.cookie)</script></html>"
    response = upload(client, polyglot, "poly.html")
    assert response.status_code == 302
    served = client.get(response.location + "/original")
    assert served.mimetype == "image/jpeg" and served.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in served.headers["Content-Security-Policy"]


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "CMYK", "I;16", "P"])
def test_unusual_pixel_formats_are_analysed(client, alice, astronaut, mode):
    image = Image.fromarray(astronaut)
    if mode == "I;16":
        image = Image.fromarray(np.asarray(image.convert("L")).astype(np.uint16) * 257)
    else:
        image = image.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    response = upload(client, encoded(image, fmt), f"unusual.{fmt.lower()}")
    assert response.status_code == 302
    assert "Face 1:" in client.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize("size", [(10000, 2), (2, 10000), (5, 5), (4000, 30)])
def test_absurd_shapes_give_no_faces_not_errors(client, alice, size):
    response = upload(client, encoded(Image.new("RGB", size, "white"), "PNG"), "odd.png")
    assert response.status_code == 302
    assert "Nothing found" in client.get(response.location).get_data(as_text=True)


def test_a_tiny_photo_is_shown_at_most_four_times_its_size(client, alice):
    response = upload(client, encoded(Image.new("RGB", (64, 48), "white"), "PNG"), "icon.png")
    page = client.get(response.location).get_data(as_text=True)
    assert '<svg viewBox="0 0 64 48" width="256" height="192"' in page  # not blown up to the column, all blur


def test_animated_webp_uses_the_first_frame(client, alice, astronaut):
    frames = [Image.fromarray(astronaut), Image.new("RGB", (512, 512), "black")]
    animated = encoded(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=100)
    response = upload(client, animated, "animated.webp")
    assert response.status_code == 302
    assert "Face 1:" in client.get(response.location).get_data(as_text=True)


@pytest.mark.parametrize("filename", ["../../etc/passwd.jpg", "..\\..\\boot.ini", "smile-ünïcødé-😀.jpg",
                                      "x" * 3000 + ".jpg", "", "<script>.jpg"])
def test_hostile_file_names_are_cleaned_and_never_used_as_paths(app, client, alice, astronaut_jpeg, filename):
    response = upload(client, astronaut_jpeg, filename)
    if not filename:
        assert response.status_code == 400  # the browser sent no file
        return
    assert response.status_code == 302
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert "/" not in analysis.original_name and "\\" not in analysis.original_name
        assert "<" not in analysis.original_name and len(analysis.original_name) <= 120
        assert analysis.stored_name.endswith(".jpeg") and len(analysis.stored_name) == 32 + 5
    stored = {path.name for path in upload_files(app)}
    assert stored == {analysis.stored_name, analysis.thumb_name}


@pytest.mark.parametrize(("sent", "shown"), [("C:\\Users\\x\\Desktop\\me.jpg", "me.jpg"),  # an old browser's
                                             ("C:\\사진\\얼굴.jpg", "얼굴.jpg"), ("D:\\me", "me"),  # whole path
                                             ('cup \\"tea\\".jpg', 'cup _tea_.jpg'),  # escaped quotes (curl)
                                             ("a%22b.jpg", "a_b.jpg")])  # a browser's quote
def test_a_file_name_sent_with_its_windows_folders_keeps_its_last_part(app, client, alice, astronaut_jpeg, sent,
                                                                         shown):
    """The file name as it stands in the part's header, its backslashes unescaped as browsers send them."""
    token = csrf_token(client, "/analyze")
    body = (f'--B\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--B\r\nContent-Disposition: form-data; name="file"; filename="{sent}"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode() + astronaut_jpeg + b"\r\n--B--\r\n"
    response = client.post("/analyze", data=body, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalars(db.select(Analysis.original_name)).one() == shown


@pytest.mark.parametrize("sent, shown", [("얼굴 사진 😀 ünïcødé.jpg", "얼굴 사진 😀 ünïcødé.jpg"),
                                         ("../../etc/passwd.jpg", "passwd.jpg"), ("C:\\photos\\me.png", "me.png"),
                                         ("=HYPERLINK(1).jpg", "HYPERLINK(1).jpg"), ("a\u202egpj.exe", "agpj.exe"),
                                         ("  tabs\tand\n lines .jpg", "tabs and lines .jpg"), ("...", "upload"),
                                         ("\u200d=1+1", "1+1"), ("\u3164", "upload"), ("\u2800\ufe0f", "upload"),
                                         ("dog \U0001f415\u200d\U0001f9ba.jpg", "dog \U0001f415\u200d\U0001f9ba.jpg"),
                                         ("\uffff.jpg", "upload.jpg"), ("\U0010ffff.png", "upload.png"),
                                         ("=.jpg", "upload.jpg"), ("-jpg", "jpg"), (".hidden", "upload.hidden")])
def test_file_names_keep_their_script_and_lose_what_could_mislead(sent, shown):
    assert clean_original_name(sent) == shown


def test_unwritable_upload_folder_gives_a_clear_error_and_no_rows(app, client, alice, astronaut_jpeg,
                                                                  two_face_video, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the upload folder should be")
    app.config["UPLOAD_FOLDER"] = str(blocker / "uploads")
    for content, name in ((astronaut_jpeg, "photo.jpg"), (two_face_video.read_bytes(), "clip.mp4")):
        response = upload(client, content, name)
        assert response.status_code == 507
        assert "could not store the file" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0


def test_mpo_photos_from_phones_are_analysed_as_jpeg(app, client, alice, astronaut):
    photo = Image.fromarray(astronaut)
    mpo = encoded(photo, "MPO", save_all=True, append_images=[photo.resize((128, 128))])
    assert Image.open(io.BytesIO(mpo)).format == "MPO"
    response = upload(client, mpo, "phone.jpg")
    assert response.status_code == 302
    assert "Face 1:" in client.get(response.location).get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(db.select(Analysis)).one().format == "jpeg"
    assert client.get(response.location + "/original").mimetype == "image/jpeg"


def corrupt_files() -> dict[str, bytes]:
    """Files that claim a supported format but cannot be decoded (each was a 507 or a 500)."""
    small = Image.new("RGB", (64, 48), (200, 120, 60))
    png, jpeg, bmp, webp = (encoded(small, fmt) for fmt in ("PNG", "JPEG", "BMP", "WEBP"))
    idat = png.index(b"IDAT") - 4
    idat_end = idat + 8 + struct.unpack(">I", png[idat:idat + 4])[0]
    lying_idat = png[:idat] + struct.pack(">I", 10**6) + png[idat + 4:idat_end - 8]  # its data ends early
    vp8 = webp.index(b"VP8") + 8
    return {
        "png chunk past the end": lying_idat,
        "truncated png header": png[:20],
        "truncated IHDR": png[:8 + 8 + 6],
        "truncated jpeg header": jpeg[:20],
        "truncated bmp header": bmp[:20],
        "truncated jpeg": jpeg[:len(jpeg) // 2],
        "mutated webp": webp[:vp8] + bytes(b ^ 0x5A for b in webp[vp8:vp8 + 40]) + webp[vp8 + 40:],
    }


@pytest.mark.parametrize("name", sorted(corrupt_files()))
def test_corrupt_images_are_a_clear_400_never_a_storage_failure(app, client, alice, name):
    content = corrupt_files()[name]
    response = upload(client, content, "corrupt.png")
    assert response.status_code == 400
    assert "truncated or corrupt" in response.get_data(as_text=True)
    api = client.post("/api/v1/analyses", headers={"X-CSRFToken": csrf_token(client, "/analyze")},
                      data={"file": (io.BytesIO(content), "corrupt.png")})
    assert api.status_code == 400 and "truncated or corrupt" in api.get_json()["error"]
    assert upload_files(app) == []
