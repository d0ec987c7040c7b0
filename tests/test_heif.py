"""HEIC and AVIF photos: decoded in a child process, analysed as the same photo in JPEG is, stored as a JPEG of their
upright pixels; a broken or oversized one refused with a 4xx and nothing stored."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import struct
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageCms

from bench.fixtures import csrf_token, login, make_app, make_user
from extensions import db
from inference import heif
from inference.errors import CorruptMedia, MediaTooLarge
from inference.heif import PIXELS_HEADER, decode_photo, is_heif
from inference.heif_items import inspect
from inference.images import ORIENTATION_TAG, decode_image
from models import Analysis, JobStatus, Reanalysis
from tests.conftest import upload, upload_files

DATA = Path(__file__).parent / "data"
SIDEWAYS = 6  # EXIF orientation: the stored picture is turned a quarter clockwise to be upright


def heif_bytes(image: Image.Image, fmt: str, orientation: int = 1, quality: int = 80,
               exif: Image.Exif | None = None, **options: object) -> bytes:
    """The image encoded as HEIC (x265, inside pillow-heif) or AVIF (Pillow's own), stored turned as `orientation`
    says (HEIC: its rotation property, AVIF: its EXIF) so that a reader must turn it upright."""
    exif = exif or Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    buffer = io.BytesIO()
    if fmt == "HEIF":
        pillow_heif.from_pillow(image).save(buffer, format="HEIF", quality=quality, exif=exif.tobytes(), **options)
    else:
        image.save(buffer, format="AVIF", quality=quality, exif=exif.tobytes(), **options)
    return buffer.getvalue()


def scene() -> Image.Image:
    return Image.open(DATA / "people-with-a-cat.jpg").convert("RGB")


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_a_turned_heic_or_avif_photo_is_read_upright(fmt):
    photo = scene()
    decoded = decode_photo(heif_bytes(photo, fmt, SIDEWAYS))
    upright = np.rot90(np.asarray(photo), -1)  # orientation 6: turned a quarter clockwise
    assert decoded.format == {"HEIF": "heic", "AVIF": "avif"}[fmt]
    assert decoded.rgb.shape == upright.shape
    assert np.abs(decoded.rgb.astype(int) - upright).mean() < 6  # lossy, but the same picture the same way up
    kept = decode_image(decoded.kept_as)  # the JPEG kept in place of the upload: the same upright picture
    assert kept.format == "jpeg" and kept.rgb.shape == upright.shape
    assert np.abs(kept.rgb.astype(int) - decoded.rgb).mean() < 3
    assert Image.open(io.BytesIO(decoded.kept_as)).size == (upright.shape[1], upright.shape[0])  # its pixels upright


@pytest.mark.parametrize("fmt", ["HEIF", "AVIF"])
def test_the_kept_jpeg_has_the_colour_profile_and_not_the_location(fmt):
    exif = Image.Exif()
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLatitude] = "N", (37.0, 33.0, 59.0)
    exif[ExifTags.Base.Model] = "iPhone 15"
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    kept = Image.open(io.BytesIO(decode_photo(heif_bytes(scene(), fmt, exif=exif, icc_profile=profile)).kept_as))
    assert kept.info.get("icc_profile") == profile
    assert "exif" not in kept.info and not kept.getexif() and "xmp" not in kept.info


def test_transparency_in_a_heic_photo_is_laid_over_white():
    clear = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    clear.paste((0, 0, 255, 255), (0, 0, 32, 48))
    decoded = decode_photo(heif_bytes(clear, "HEIF", quality=95))
    for rgb in (decoded.rgb, decode_image(decoded.kept_as).rgb):  # what is read, and what is kept
        assert rgb[24, 48].min() > 230  # the clear half is white, not the colour stored under it
        assert rgb[24, 8, 2] > 200 and rgb[24, 8, 0] < 60


def test_a_heic_photo_is_analysed_as_the_jpeg_is_and_kept_as_a_jpeg(app, client, alice):
    photo = scene()
    jpeg_response = upload(client, (DATA / "people-with-a-cat.jpg").read_bytes(), "scene.jpg")
    heic_response = upload(client, heif_bytes(photo, "HEIF", quality=90), "IMG_0001.HEIC")
    assert jpeg_response.status_code == heic_response.status_code == 302
    with app.app_context():
        from_jpeg, from_heic = db.session.scalars(db.select(Analysis).order_by(Analysis.id)).all()
        assert from_heic.format == "jpeg" and from_heic.stored_name.endswith(".jpeg")
        assert (from_heic.width, from_heic.height) == photo.size
        assert sorted(d.kind for d in from_heic.detections) == sorted(d.kind for d in from_jpeg.detections)
        assert len(from_heic.detections) >= 2
        heic_id = from_heic.id
    original = client.get(f"/analyses/{heic_id}/original")
    assert original.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(original.data)).format == "JPEG"
    assert "IMG_0001.HEIC.jpeg" in original.headers["Content-Disposition"]
    assert client.get(f"/analyses/{heic_id}/thumb").status_code == 200
    page = client.get(f"/analyses/{heic_id}").get_data(as_text=True)
    assert "IMG_0001.HEIC" in page


def test_the_same_heic_sent_twice_is_one_analysis(app, client, alice):
    heic = heif_bytes(scene(), "HEIF", quality=60)
    first, second = upload(client, heic, "a.heic"), upload(client, heic, "b.heic")
    assert first.headers["Location"] == second.headers["Location"]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 1


def claiming_size(heic: bytes, width: int, height: int) -> bytes:
    """The HEIC with its image size property (ispe) saying width x height, its coded picture unchanged."""
    at = heic.index(b"ispe")
    return heic[:at + 8] + struct.pack(">II", width, height) + heic[at + 16:]


def test_a_heic_claiming_more_pixels_than_the_limit_is_refused_before_it_is_decoded(app, client, alice):
    heic = heif_bytes(Image.new("RGB", (64, 64), "teal"), "HEIF")
    with pytest.raises(MediaTooLarge, match="10000x9000 pixels; the limit is 40 megapixels"):
        decode_photo(claiming_size(heic, 10000, 9000))
    with pytest.raises(MediaTooLarge, match="too many pixels"):  # past Pillow's own bomb limit, too
        decode_photo(claiming_size(heic, 20000, 20000))
    response = upload(client, claiming_size(heic, 10000, 9000), "huge.heic")
    assert response.status_code == 413
    assert "10000x9000" in response.get_data(as_text=True)
    assert upload_files(app) == []


def test_the_pixels_the_child_sends_back_are_checked_again(tmp_path):
    """The child checks the size before it decodes; its parent checks what comes back too, before allocating it."""
    sent = tmp_path / "pixels"
    sent.write_bytes(PIXELS_HEADER.pack(9000, 10000, b"heic", 0))
    with sent.open("rb") as pixels, pytest.raises(MediaTooLarge, match="10000x9000"):
        heif._read_pixels(pixels, 40_000_000)
    sent.write_bytes(PIXELS_HEADER.pack(64, 64, b"heic", 0) + bytes(100))  # cut short
    with sent.open("rb") as pixels, pytest.raises(CorruptMedia):
        heif._read_pixels(pixels, 40_000_000)


def heif_children() -> list[int]:
    """This process's children decoding a HEIF photo."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"PPid:\t{os.getpid()}\n" in status and b"inference.heif" in command:
            found.append(int(pid))
    return found


def test_a_decoding_past_its_time_is_refused_and_its_child_ended(monkeypatch, caplog):
    monkeypatch.setattr(heif, "DECODE_SECONDS", 0.05)  # the child needs far longer just to start
    with pytest.raises(MediaTooLarge, match="took too long to decode"):
        decode_photo(heif_bytes(scene(), "HEIF"))
    assert heif_children() == []
    assert "took more than" in caplog.text  # told to whoever runs the server


def test_a_heic_kept_as_a_jpeg_larger_than_the_upload_limit_is_analysed_again(tmp_path):
    """Noise: its HEIC is under 1 MB, its kept JPEG over (under the 2 MB limit of its upload, lowered since). "Analyse
    again" reads the stored JPEG: the upload's size limit was checked at upload, not again."""
    app = make_app(tmp_path, MAX_UPLOAD_MB=2)
    make_user(app, "ivy")
    client = app.test_client()
    login(client, "ivy")
    noise = np.random.default_rng(0).integers(0, 256, (1200, 1200, 3), dtype=np.uint8)
    heic = heif_bytes(Image.fromarray(noise), "HEIF", quality=30)
    assert len(heic) < 2**20
    analysis_id = int(upload(client, heic, "noise.heic").location.rsplit("/", 1)[1])
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id)
        assert (Path(app.config["UPLOAD_FOLDER"]) / analysis.stored_name).stat().st_size > 2**20
        analysis.detector = "an earlier detector"
        db.session.commit()
    app.config["MAX_UPLOAD_MB"] = 1
    token = csrf_token(client, f"/analyses/{analysis_id}")
    assert client.post(f"/analyses/{analysis_id}/again", data={"csrf_token": token}).status_code == 302
    with app.app_context():
        assert db.session.scalar(db.select(Reanalysis.status)) == JobStatus.DONE


def test_the_cli_analyses_and_explains_a_heic(app, tmp_path):
    photo = tmp_path / "IMG_0001.HEIC"
    photo.write_bytes(heif_bytes(scene(), "HEIF"))
    arguments = ["analyze", str(photo), "--json", "--explain", "--out", str(tmp_path / "maps")]
    result = app.test_cli_runner().invoke(args=arguments)
    assert result.exit_code == 0, result.output
    assert any(detection["explanation"] for detection in json.loads(result.stdout)["detections"])


@pytest.mark.parametrize("content", [
    b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64),  # a header and nothing
    b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif" + bytes(64),
    None,  # a real HEIC cut in half
])
def test_a_broken_heic_or_avif_is_refused_and_nothing_is_kept(app, client, alice, content):
    if content is None:
        whole = heif_bytes(scene(), "HEIF")
        content = whole[:len(whole) // 2]
    assert is_heif(content[:16])
    with pytest.raises(CorruptMedia):
        decode_photo(content)
    response = upload(client, content, "broken.heic")
    assert response.status_code == 400
    assert re.search(r'class="field-error"[^>]*>broken\.heic: The photo could not be decoded',
                     response.get_data(as_text=True))
    assert upload_files(app) == []


# Crafted by this project (a probe of the HEIF path, session 56) from flat pictures encoded with pillow-heif and
# Pillow, their boxes rewritten: tests/data/README.md.
CRAFTED = {
    "heic-grid-of-961-tiles-of-8192px-shows-100px.heic": (413, "far more pictures than it shows"),  # held 60 s
    "heic-says-64px-codes-8192px.heic": (413, "far more pictures than it shows"),  # its ispe lies, its hvcC not
    "avif-says-64px-codes-8192px.avif": (413, "far more pictures than it shows"),  # its sequence header in its data
    "heic-grid-of-grids-shows-100px.heic": (415, "as no camera writes one"),  # tiles reused by the grids
    "heic-two-primary-items.heic": (415, "as no camera writes one"),  # libheif took the first, a count the last
    "heic-data-carries-its-own-8192px-parameters.heic": (415, "as no camera writes one"),  # libde265 uses those
    "heic-10-pictures-in-one-item.heic": (415, "as no camera writes one"),  # all decoded, the last kept
    "heic-mask-alpha-overflows-64-bytes.heic": (415, "as no camera writes one"),  # a heap overflow in libheif 1.20.2
    "avif-crops-itself.avif": (415, "crop their own picture"),  # Pillow would show the part its clap cuts off
    "heic-item-type-not-utf8.heic": (400, "could not be decoded"),  # pillow-heif dies on it (SIGSEGV), in the child
}


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_crafted_heif_is_refused_before_it_costs_and_nothing_is_kept(app, client, alice, name):
    status, reason = CRAFTED[name]
    response = upload(client, (DATA / name).read_bytes(), name)
    assert response.status_code == status
    assert reason in response.get_data(as_text=True)
    assert upload_files(app) == []
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0


def test_a_decoding_past_its_processor_time_is_told_as_too_long(monkeypatch):
    """The child limits its own processor time by the size shown (RLIMIT_CPU): the kernel ends it with SIGXCPU."""
    monkeypatch.setattr(heif, "run_for", lambda *_: (-signal.SIGXCPU, b""))
    with pytest.raises(MediaTooLarge, match="took too long to decode"):
        decode_photo(heif_bytes(scene(), "HEIF"))


def test_an_avif_under_the_generic_heif_brand_is_read_as_an_avif():
    decoded = decode_photo((DATA / "avif-major-brand-mif1.avif").read_bytes())
    assert decoded.format == "avif" and decoded.rgb.shape == (64, 96, 3)


def test_the_kept_jpeg_is_made_smaller_to_fit_the_bytes_allowed_or_refused():
    noise = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    largest = len(heif._kept_jpeg(noise, None, 0))
    smaller = heif._kept_jpeg(noise, None, largest - 1)
    assert len(smaller) < largest and Image.open(io.BytesIO(smaller)).size == (300, 300)
    with pytest.raises(MediaTooLarge, match="kept as a JPEG, would be larger than"):
        heif._kept_jpeg(noise, None, 1000)


def test_counts_past_the_entries_a_box_holds_are_odd_not_counted():
    """An ipma or iloc that says it holds 2^32 entries: counting them one by one took hours (a fuzz found it)."""
    photo = heif_bytes(scene(), "HEIF")
    assert inspect(photo).odd is None
    for box, at in ((b"ipma", 4), (b"iloc", 6)):
        start = photo.index(box) + 4  # the box's payload: version and flags, then its fields
        wide = photo[:start] + bytes([2]) + photo[start + 1:] if box == b"iloc" else photo  # iloc v2: 32-bit count
        patched = wide[:start + at] + b"\xff\xff\xff\xff" + wide[start + at + 4:]
        assert inspect(patched).odd
