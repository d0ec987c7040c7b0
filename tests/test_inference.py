"""The pipeline on real photos: detection, crops, classification (no Flask involved)."""

from __future__ import annotations

import io
import struct

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from bench.upload_memory import encoded
from inference.detectors import Detection, in_reading_order
from inference.crops import gray_crops, rgb_crops, square_crop_box
from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from inference.images import decode_image
from inference.labels import HUMAN_EMOTIONS
from inference.pipeline import get_pipeline, largest
from tests.conftest import jpeg_bytes

ASTRONAUT_FACE = (180, 60, 268, 175)


def overlap(box, reference) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    ix = max(0, min(box[2], reference[2]) - max(box[0], reference[0]))
    iy = max(0, min(box[3], reference[3]) - max(box[1], reference[1]))
    union = (box[2] - box[0]) * (box[3] - box[1]) + (reference[2] - reference[0]) * (reference[3] - reference[1])
    return ix * iy / (union - ix * iy)


@pytest.fixture(scope="module")
def pipeline():
    return get_pipeline()


def test_finds_the_astronaut_face_with_valid_probabilities(pipeline, astronaut_jpeg):
    result = pipeline.analyze_bytes(astronaut_jpeg)
    assert (result.width, result.height) == (512, 512)
    assert len(result.detections) == 1
    face = result.detections[0]
    assert overlap(face.box, ASTRONAUT_FACE) > 0.6
    assert face.score > 0.95
    assert list(face.emotions) == list(HUMAN_EMOTIONS)
    assert sum(face.emotions.values()) == pytest.approx(1.0, abs=1e-4)
    assert all(0 <= p <= 1 for p in face.emotions.values())
    assert face.top == max(face.emotions, key=face.emotions.get)
    assert set(result.timings_ms) == {"decode", "detect faces", "detect pets", "crop+classify"}


def test_no_face_in_coffee(pipeline, coffee_jpeg):
    assert pipeline.analyze_bytes(coffee_jpeg).detections == []


def test_finds_every_face(pipeline, two_faces):
    result = pipeline.analyze_bytes(jpeg_bytes(two_faces))
    assert len(result.detections) == 2
    left, right = sorted(result.detections, key=lambda face: face.box[0])
    assert overlap(left.box, ASTRONAUT_FACE) > 0.6
    mirrored = (1024 - ASTRONAUT_FACE[2], ASTRONAUT_FACE[1], 1024 - ASTRONAUT_FACE[0], ASTRONAUT_FACE[3])
    assert overlap(right.box, mirrored) > 0.6
    assert all(sum(face.emotions.values()) == pytest.approx(1.0, abs=1e-4) for face in result.detections)


def test_a_collages_faces_are_numbered_in_reading_order(pipeline, two_faces):
    """Two rows of two: the second row starts again at the left (sorted by x alone, the lower left face came second)."""
    collage = np.concatenate([two_faces, two_faces[:, ::-1]], axis=0)
    result = pipeline.analyze_bytes(jpeg_bytes(collage))
    assert len(result.detections) == 4
    corners = [(face.box[0] > 512, face.box[1] > 512) for face in result.detections]
    assert corners == [(False, False), (True, False), (False, True), (True, True)]


def test_reading_order_keeps_heads_at_slightly_different_heights_in_one_row():
    heads = [Detection((300, 140, 380, 240), 0.9), Detection((0, 100, 80, 200), 0.9),
             Detection((150, 120, 230, 220), 0.9), Detection((40, 400, 120, 500), 0.9)]
    assert [head.box[0] for head in in_reading_order(heads)] == [0, 150, 300, 40]


def test_reading_order_keeps_a_small_face_beside_a_large_one_in_its_row():
    """A small face high on the right, a large one on the left, a middle one between: numbered right, middle, left
    when a row was only as tall as its highest face."""
    faces = [Detection((400, 100, 440, 140), 0.9), Detection((0, 110, 250, 400), 0.9),
             Detection((260, 130, 310, 180), 0.9), Detection((100, 500, 160, 560), 0.9)]
    assert [face.box[0] for face in in_reading_order(faces)] == [0, 260, 400, 100]
    staircase = [Detection((460, 100, 487, 131), 0.9), Detection((354, 144, 380, 176), 0.9),
                 Detection((429, 115, 460, 161), 0.9)]  # people-with-a-cat.jpg's faces, each half on the next
    assert [face.box[0] for face in in_reading_order(staircase)] == [354, 429, 460]


def test_reading_order_keeps_a_group_photos_rows_apart_and_a_collages_column_top_to_bottom():
    """A child's face between the two rows of a group photo overlapped both: rows joined through it were numbered
    back, front, back, front. A large photo beside two small ones stacked: the lower, a little further left, came
    first."""
    back = [Detection((100.0 * i, 100.0, 100.0 * i + 70, 180.0), 0.9) for i in range(5)]
    front = [Detection((50.0 + 100 * i, 165.0, 120.0 + 100 * i, 245.0), 0.9) for i in range(4)]
    child = Detection((480.0, 130.0, 565.0, 215.0), 0.9)
    assert in_reading_order(front + [child] + back) == sorted(back, key=lambda face: face.box[0]) + [child] + front
    large, upper, lower = (Detection((0.0, 0.0, 300.0, 400.0), 0.9), Detection((420.0, 40.0, 480.0, 100.0), 0.9),
                           Detection((410.0, 260.0, 470.0, 320.0), 0.9))
    assert in_reading_order([lower, large, upper]) == [large, upper, lower]


def test_large_photo_is_downscaled_for_detection_and_boxes_map_back(pipeline, astronaut):
    big = np.asarray(Image.fromarray(astronaut).resize((2048, 2048), Image.BICUBIC))
    result = pipeline.analyze_bytes(jpeg_bytes(big))
    assert (result.width, result.height) == (2048, 2048)
    scaled_face = tuple(v * 4 for v in ASTRONAUT_FACE)
    assert len(result.detections) == 1
    assert overlap(result.detections[0].box, scaled_face) > 0.6


def test_exif_orientation_is_honoured(pipeline, astronaut):
    # Stored rotated 90 degrees, with the EXIF tag that tells viewers to rotate it back.
    rotated = Image.fromarray(astronaut).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    buffer = io.BytesIO()
    rotated.save(buffer, "JPEG", exif=exif)
    result = pipeline.analyze_bytes(buffer.getvalue())
    assert len(result.detections) == 1
    assert overlap(result.detections[0].box, ASTRONAUT_FACE) > 0.6


def test_batch_gives_the_same_probabilities_as_single_crops(pipeline, astronaut, two_faces):
    crops = gray_crops(two_faces, [(180, 60, 268, 175), (756, 60, 844, 175), (10, 300, 120, 420)], 48)
    together = pipeline.classifier.predict(crops)
    apart = np.concatenate([pipeline.classifier.predict(crops[i:i + 1]) for i in range(3)])
    np.testing.assert_allclose(together, apart, atol=1e-4)
    assert not np.allclose(together[0], together[2], atol=1e-3), "a face and a wall must not get the same output"


@pytest.mark.parametrize(
    ("box", "size", "expected"),
    [
        ((100, 100, 200, 200), (1000, 1000), (85, 85, 215, 215)),   # 15% margin each side, square
        ((100, 100, 150, 200), (1000, 1000), (60, 85, 190, 215)),   # longer side decides
        ((0, 0, 100, 100), (1000, 1000), (0, 0, 130, 130)),         # moved inside, still square
        ((900, 900, 1000, 1000), (1000, 1000), (870, 870, 1000, 1000)),
        ((0, 10, 90, 90), (100, 60), (15, 0, 75, 60)),              # image smaller than the square
        ((50.2, 50.2, 50.3, 50.3), (100, 100), (50, 50, 51, 51)),   # a point: one pixel, not an empty square
    ],
)
def test_square_crop_box(box, size, expected):
    assert square_crop_box(box, *size) == expected


def test_crops_are_the_pixels_pillow_makes_of_the_whole_image(astronaut):
    """Crops are cut a plane at a time (memory) yet read exactly as converting the image with Pillow, cropping and
    resizing it would: what the models were trained on. Rotated (not C-ordered) arrays included."""
    rng = np.random.default_rng(3)
    for rgb in (astronaut, np.rot90(astronaut[:301, :257]), rng.integers(0, 256, (97, 131, 3), dtype=np.uint8)):
        height, width = rgb.shape[:2]
        boxes = [(0.0, 0.0, float(width), float(height)), (20.5, 30.0, 90.0, 80.25),
                 (width - 10.0, 5.0, width + 9.0, 40.0)]
        whole = Image.fromarray(np.ascontiguousarray(rgb))
        for mode, crops, size in (("L", gray_crops(rgb, boxes, 48), 48), ("RGB", rgb_crops(rgb, boxes, 224), 224)):
            for box, crop in zip(boxes, crops):
                square = square_crop_box(box, width, height, 0.15 if mode == "L" else 0.05)
                expected = whole.convert(mode).crop(square).resize((size, size), Image.BILINEAR)
                np.testing.assert_array_equal(crop, np.asarray(expected))


def test_decode_rejects_bad_input():
    with pytest.raises(CorruptMedia):
        decode_image(b"")
    with pytest.raises(UnsupportedMediaType):
        decode_image(b"<html><body>not an image</body></html>")
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    with pytest.raises(UnsupportedMediaType):
        decode_image(gif.getvalue())
    with pytest.raises(MediaTooLarge):
        decode_image(jpeg_bytes(np.zeros((100, 100, 3), np.uint8)), max_pixels=5000)


def test_a_progressive_jpeg_is_limited_by_its_coefficients():
    """The decoder keeps every coefficient of a progressive JPEG: four full-size channels (CMYK) get five eighths
    of the pixel limit, three (4:4:4) five sixths, 4:2:0 colour all of it; a baseline JPEG keeps none."""
    cmyk = Image.new("CMYK", (100, 100), (10, 20, 30, 40))
    with pytest.raises(MediaTooLarge, match="multi-scan JPEG of 100x100 pixels in 4 channels"):
        decode_image(encoded(cmyk, "JPEG", progressive=True), max_pixels=15_000)
    assert decode_image(encoded(cmyk, "JPEG"), max_pixels=15_000).rgb.shape == (100, 100, 3)
    full_colour = encoded(Image.new("RGB", (100, 100), "teal"), "JPEG", progressive=True, subsampling=0)
    with pytest.raises(MediaTooLarge, match="multi-scan JPEG of 100x100 pixels in 3 channels"):
        decode_image(full_colour, max_pixels=11_000)
    assert decode_image(full_colour, max_pixels=12_000).rgb.shape == (100, 100, 3)
    subsampled = encoded(Image.new("RGB", (100, 100), "teal"), "JPEG", progressive=True, subsampling=2)
    assert decode_image(subsampled, max_pixels=10_000).rgb.shape == (100, 100, 3)


def test_a_webp_gets_half_the_pixel_limit():
    webp = encoded(Image.new("RGBA", (100, 100), (0, 0, 255, 0)), "WEBP", lossless=True)
    with pytest.raises(MediaTooLarge, match="limit for WebP"):
        decode_image(webp, max_pixels=19_000)
    decoded = decode_image(webp, max_pixels=20_000)
    assert decoded.format == "webp" and decoded.rgb[50, 50].tolist() == [255, 255, 255]  # transparent: on white


def test_decode_rejects_truncated_jpeg(astronaut_jpeg):
    with pytest.raises(CorruptMedia):
        decode_image(astronaut_jpeg[: len(astronaut_jpeg) // 2])


def test_decode_converts_grayscale_and_alpha_to_rgb():
    for mode in ("L", "RGBA", "P"):
        buffer = io.BytesIO()
        Image.new(mode, (32, 16)).save(buffer, "PNG")
        decoded = decode_image(buffer.getvalue())
        assert decoded.rgb.shape == (16, 32, 3) and decoded.format == "png"


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_the_mtcnn_cascade_finds_what_facenet_pytorch_finds(two_faces, backend):
    """inference/mtcnn.py re-implements facenet-pytorch's detect_face around the same networks."""
    import torch
    from facenet_pytorch import MTCNN as FacenetMTCNN
    from facenet_pytorch.models.utils.detect_face import detect_face

    from inference.detectors import MTCNNFaceDetector
    from inference.tracking import iou

    reference = FacenetMTCNN(keep_all=True, min_face_size=20)
    with torch.inference_mode():
        expected, points = detect_face(two_faces[None], 20, reference.pnet, reference.rnet, reference.onet,
                                       reference.thresholds, reference.factor, reference.device)
    detector = MTCNNFaceDetector(torch.device("cpu"), backend, max_side=max(two_faces.shape))
    found = detector.detect(two_faces)
    assert detector.runner_name.startswith("onnxruntime" if backend == "onnx" else "torch")
    assert len(found) == len(expected[0]) == 2
    order = np.argsort(np.asarray(expected[0], dtype=float)[:, 0])
    for ours, theirs, their_points in zip(found, np.asarray(expected[0], dtype=float)[order],
                                          np.asarray(points[0], dtype=float)[order]):
        assert iou(ours.box, theirs[:4]) > 0.9 and ours.score > 0.99
        np.testing.assert_allclose(ours.landmarks, their_points, atol=2)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("band_pixels", [1 << 20, 40, 100])  # the whole image, bands of one row, of two rows
def test_decode_turns_every_exif_orientation_as_pillow_does(monkeypatch, orientation, band_pixels):
    from PIL import ImageOps

    monkeypatch.setattr("inference.images.BAND_PIXELS", band_pixels)
    rgb = np.random.default_rng(orientation).integers(0, 256, (24, 40, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buffer.getvalue()))).convert("RGB"))
    decoded = decode_image(buffer.getvalue()).rgb
    assert decoded.flags["C_CONTIGUOUS"] and np.array_equal(decoded, expected)


def exif_with_orientation(kind: int, count: int, value: int = 6, order: str = "<") -> bytes:
    """Raw EXIF (a TIFF header and one directory) whose only entry is an orientation of `count` values of `kind`."""
    header = (b"II*\x00" if order == "<" else b"MM\x00*") + struct.pack(order + "I", 8)
    entry = struct.pack(order + "HHI", 0x0112, kind, count) + struct.pack(order + "H", value) + bytes(2)
    return header + struct.pack(order + "H", 1) + entry + struct.pack(order + "I", 0) + bytes(8 * count)


@pytest.mark.parametrize(("exif", "orientation"), [
    (exif_with_orientation(3, 1), 6), (b"Exif\x00\x00" + exif_with_orientation(3, 1, 8, ">"), 8),
    (exif_with_orientation(3, 2), 1), (exif_with_orientation(5, 1), 1), (exif_with_orientation(3, 1, 9), 1),
    (exif_with_orientation(3, 1)[:20], None), (b"II*\x00\xff\xff\xff\xff", None), (b"", None), (None, None)])
def test_the_exif_orientation_is_one_short_from_1_to_8_or_upright(exif, orientation):
    """A single SHORT from 1 to 8; another entry is upright (1); no entry at all is None (the XMP may say)."""
    from inference.images import exif_orientation

    assert exif_orientation(exif) == orientation


def test_a_png_whose_orientation_holds_a_million_fractions_is_read_upright_without_pillows_reader(monkeypatch):
    """Pillow's EXIF reader made a Python object of each value (9 MB of them: +133 to +300 MB and seconds): the
    orientation is read from its one entry, never through getexif()."""
    buffer = io.BytesIO()
    Image.fromarray(np.zeros((24, 40, 3), np.uint8)).save(buffer, "PNG", exif=exif_with_orientation(5, 1_000_000))

    def pillows_reader(self):
        raise AssertionError("the EXIF was read through Pillow")

    monkeypatch.setattr(Image.Image, "getexif", pillows_reader)
    assert decode_image(buffer.getvalue()).rgb.shape == (24, 40, 3)


def turned_by_metadata(where: str) -> bytes:
    """A 40x24 photo whose orientation 6 (a quarter turn) is only in ImageMagick's raw EXIF text of a PNG, or only
    in a JPEG's XMP."""
    photo = Image.fromarray(np.random.default_rng(6).integers(0, 256, (24, 40, 3), dtype=np.uint8))
    buffer = io.BytesIO()
    if where == "raw profile":
        exif = b"Exif\x00\x00" + exif_with_orientation(3, 1)
        text = f"\nexif\n{len(exif):8d}\n{exif.hex()}\n"
        info = PngImagePlugin.PngInfo()
        info.add_text("Raw profile type exif", text, zip=True)
        photo.save(buffer, "PNG", pnginfo=info)
    else:
        xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description tiff:Orientation="6"/></x:xmpmeta>'
        photo.save(buffer, "JPEG", quality=95, xmp=xmp)
    return buffer.getvalue()


@pytest.mark.parametrize("where", ["raw profile", "xmp"])
def test_an_orientation_kept_where_pillow_finds_it_besides_the_exif_turns_the_photo(where):
    """ImageMagick's PNG text and a JPEG's XMP: Pillow's getexif() reads the orientation there too."""
    from PIL import ImageOps

    content = turned_by_metadata(where)
    expected = ImageOps.exif_transpose(Image.open(io.BytesIO(content))).size
    assert expected == (24, 40) and decode_image(content).rgb.shape[:2] == (40, 24)


def test_decode_converts_sixteen_bit_gray_by_its_brightest_value():
    gray = np.array([[0, 1000], [2000, 4000]], np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, "PNG")
    decoded = decode_image(buffer.getvalue()).rgb
    assert decoded[..., 0].tolist() == [[0, 63], [127, 255]] and (decoded == decoded[..., :1]).all()


def test_a_model_loaded_once_per_process_is_loaded_once_by_threads_that_ask_together():
    import threading
    import time
    from inference.once import once_per_process
    loads = []

    @once_per_process
    def model() -> object:
        loads.append(1)
        time.sleep(0.2)  # a slow load: the other threads ask meanwhile
        return object()

    assert model.if_loaded() is None
    got = []
    threads = [threading.Thread(target=lambda: got.append(model())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loads == [1] and len({id(one) for one in got}) == 1 and model.if_loaded() is got[0]


def test_a_crowd_is_read_a_few_crops_at_a_time_with_the_same_result(pipeline, two_faces, monkeypatch):
    """A photo of two hundred faces ran every face (and every candidate box of the detector) through the networks
    at once: 1.7 GB for a 160 KB photo. Read a few at a time, the result is the same."""
    from inference import classifiers, mtcnn
    photo = jpeg_bytes(two_faces)
    at_once = pipeline.analyze_bytes(photo).detections
    monkeypatch.setattr(mtcnn, "STAGE_BATCH", 3)
    monkeypatch.setattr(classifiers, "PREDICT_BATCH", 1)
    a_few = pipeline.analyze_bytes(photo).detections
    assert len(at_once) == 2 and [(face.box, face.emotions) for face in a_few] == \
        [(face.box, face.emotions) for face in at_once]


def test_the_largest_detections_are_kept_in_their_order():
    boxes = [(0, 0, 10, 10), (0, 0, 30, 30), (5, 5, 6, 6), (0, 0, 20, 20)]
    found = [Detection(box, 0.9) for box in boxes]
    assert [d.box for d in largest(found, 2)] == [(0, 0, 30, 30), (0, 0, 20, 20)]
    assert largest(found, 4) == found
