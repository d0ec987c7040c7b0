"""Faces as users upload them: alignment on a real photo, a photo that is itself a face crop, and
face-free photos that must stay face-free (no Flask involved)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from inference import detectors
from inference.detectors import Detection
from inference.align import FER2013_TEMPLATE, aligned_crop, alignment_matrix
from inference.pipeline import get_pipeline
from tests.conftest import DATA, jpeg_bytes



@pytest.fixture(scope="module")
def pipeline():
    return get_pipeline()


def rotated(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """The photo turned counter-clockwise about its centre, same size."""
    return np.asarray(Image.fromarray(rgb).rotate(degrees, resample=Image.BICUBIC))


def only_face(pipeline, rgb: np.ndarray):
    faces = pipeline.detector.detect(rgb)
    assert len(faces) == 1
    return faces[0]


def eye_tilt_degrees(matrix: np.ndarray, landmarks) -> float:
    (left_x, left_y), (right_x, right_y) = (matrix @ [x, y, 1] for x, y in landmarks[:2])
    return float(np.degrees(np.arctan2(right_y - left_y, right_x - left_x)))


def test_alignment_levels_the_eyes_of_a_tilted_head(pipeline, astronaut):
    tilted = rotated(astronaut, 20)
    face = only_face(pipeline, tilted)
    (left_x, left_y), (right_x, right_y) = face.landmarks[:2]
    assert abs(np.degrees(np.arctan2(right_y - left_y, right_x - left_x)) + 20) < 6  # the photo's tilt is seen
    matrix = alignment_matrix(face.landmarks, 48)
    assert abs(eye_tilt_degrees(matrix, face.landmarks)) < 3
    eye_distance = np.hypot(*np.subtract(*(matrix @ [x, y, 1] for x, y in face.landmarks[:2])))
    template_distance = (FER2013_TEMPLATE[1, 0] - FER2013_TEMPLATE[0, 0]) * 48
    assert eye_distance == pytest.approx(template_distance, rel=0.15)


def test_aligned_crops_of_upright_and_tilted_photos_agree(pipeline, astronaut):
    upright, tilted = astronaut, rotated(astronaut, 20)
    crops = [aligned_crop(photo, only_face(pipeline, photo).landmarks, 48).astype(float) for photo in (upright, tilted)]
    difference = np.abs(crops[0] - crops[1]).mean()
    upright_box, tilted_box = (np.asarray(Image.fromarray(photo).crop((170, 50, 280, 185)).resize((48, 48)), float)
                               for photo in (upright, tilted))
    box_difference = np.abs(upright_box - tilted_box).mean()
    assert difference < 12 and difference < box_difference / 2


@pytest.mark.parametrize("margin", [0, 10])
def test_a_photo_that_is_a_tight_face_crop_is_analysed(pipeline, astronaut, margin):
    crop = astronaut[80 - margin:170 + margin, 185 - margin:265 + margin]  # forehead to chin, cheek to cheek
    result = pipeline.analyze_bytes(jpeg_bytes(crop))
    faces = [face for face in result.detections if face.kind == "human"]
    assert len(faces) == 1 and faces[0].top is not None
    assert set(result.timings_ms) == {"decode", "detect faces", "detect pets", "crop+classify"}


def test_the_search_with_a_border_places_a_tight_crops_landmarks(pipeline, astronaut):
    """Without room around the face MTCNN's box runs past the photo and its landmarks go astray; with a
    border the eyes land within 8 pixels (a tenth of the crop) of where the full photo puts them."""
    top, left = 80, 185
    crop = astronaut[top:170, left:265]
    found = pipeline.detector.detect_padded(crop)
    assert len(found) == 1
    x1, y1, x2, y2 = found[0].box
    assert 0 <= x1 < x2 <= crop.shape[1] and 0 <= y1 < y2 <= crop.shape[0] and (x2 - x1) > crop.shape[1] / 2
    full_photo_eyes = np.asarray(only_face(pipeline, astronaut).landmarks[:2]) - [left, top]
    np.testing.assert_allclose(found[0].landmarks[:2], full_photo_eyes, atol=8)


def test_a_large_tight_crop_is_searched_shrunk_and_placed_in_its_own_pixels(pipeline, astronaut):
    """A 12x enlarged tight crop (1,080 x 960) is shrunk before the border is added; its face and eyes come back
    in the enlarged photo's pixels: where the same search of the crop itself puts them, times 12, within 6 of its 80
    pixels (a lost shrink factor or border would be off by hundreds; the searches' eyes differ by up to 12 on this
    crop cut at the forehead and chin, and which is surest differs with the size)."""
    small = astronaut[80:170, 185:265]
    zoom = 12
    crop = np.asarray(Image.fromarray(small).resize((80 * zoom, 90 * zoom), Image.BICUBIC))
    assert len(pipeline.detector.detect_padded(crop)) == 1
    found = pipeline.detector.detect_padded(crop, detectors.CROP_SEARCHES[:1])
    assert len(found) == 1 and found[0].box[2] - found[0].box[0] > crop.shape[1] / 2
    small_eyes = np.asarray(pipeline.detector.detect_padded(small, detectors.CROP_SEARCHES[:1])[0].landmarks[:2])
    np.testing.assert_allclose(found[0].landmarks[:2], small_eyes * zoom, atol=6 * zoom)


@pytest.mark.parametrize("mirrored", [False, True])
def test_a_tight_crop_of_a_tilted_head_is_found_by_a_turned_search(pipeline, mirrored):
    """A face of tests/data/people-with-a-cat.jpg, the photo turned 30 degrees about it and cut to the face (and that
    crop mirrored: turned the other way): no unturned search finds it, nor MTCNN in the whole turned photo, a turned
    one does, and its eyes come back in the crop's own pixels, tilted as the head is."""
    photo = Image.open(DATA / "people-with-a-cat.jpg").convert("RGB")
    turned = np.asarray(photo.rotate(30, resample=Image.BICUBIC, center=(444.5, 138.0)))
    crop = turned[119:156, 425:463]  # the face, 31 px wide, with a tenth of that on each side
    assert all(abs((face.box[0] + face.box[2]) / 2 - 444.5) > 15 for face in pipeline.detector.detect(turned))
    crop, degrees = (np.ascontiguousarray(crop[:, ::-1]), -30) if mirrored else (crop, 30)
    unturned = tuple(search for search in detectors.CROP_SEARCHES if not search[1])
    assert pipeline.detector.detect_padded(crop, unturned) == []
    found = pipeline.detector.detect_padded(crop)
    assert len(found) == 1 and found[0].box[2] - found[0].box[0] > crop.shape[1] / 2
    (left_x, left_y), (right_x, right_y) = found[0].landmarks[:2]
    assert abs(np.degrees(np.arctan2(right_y - left_y, right_x - left_x)) + degrees) < 15
    photo_file = io.BytesIO()
    Image.fromarray(crop).save(photo_file, "PNG")
    faces = [face for face in pipeline.analyze_bytes(photo_file.getvalue()).detections if face.kind == "human"]
    assert len(faces) == 1 and faces[0].top is not None


def encoded(rgb: np.ndarray, encoding: str) -> bytes:
    """A photo's file: PNG, or JPEG at a quality ("jpeg75")."""
    buffer = io.BytesIO()
    options = {} if encoding == "png" else {"quality": int(encoding[4:])}
    Image.fromarray(rgb).save(buffer, "PNG" if encoding == "png" else "JPEG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("encoding", ["png", "jpeg92", "jpeg75"])
@pytest.mark.parametrize("quarter_turns", [1, 2, 3])
def test_a_photo_on_its_side_or_upside_down_without_an_orientation_tag_is_read_as_upright(pipeline, astronaut,
                                                                                          quarter_turns, encoding):
    """A photo turned with no EXIF orientation (a screenshot, an edited copy) said "Nothing found" with the face plain
    to see, or was read sideways (MTCNN finds the face on its side, less surely, with landmarks not its own; the
    PNG and the JPEG at quality 75 did so): the turned searches find it where it is in the turned photo, as the face
    it is surest of, and it is read as in the upright one (its eyes' line turned as the photo is; alignment levels
    it)."""
    upright = only_face(pipeline, astronaut)
    read_upright = pipeline.analyze_bytes(jpeg_bytes(astronaut)).detections[0]
    turned = np.ascontiguousarray(np.rot90(astronaut, quarter_turns))
    faces = [face for face in pipeline.analyze_bytes(encoded(turned, encoding)).detections if face.kind == "human"]
    assert len(faces) == 1 and faces[0].top == read_upright.top
    (left_x, left_y), (right_x, right_y) = faces[0].landmarks[:2]
    eye_line = np.degrees(np.arctan2(right_y - left_y, right_x - left_x))
    assert abs((eye_line + 90 * quarter_turns + 180) % 360 - 180) < 20  # np.rot90 turns counter-clockwise
    height, width = astronaut.shape[:2]
    x, y = (upright.box[0] + upright.box[2]) / 2, (upright.box[1] + upright.box[3]) / 2
    expected = {1: (y, width - x), 2: (width - x, height - y), 3: (height - y, x)}[quarter_turns]
    found = ((faces[0].box[0] + faces[0].box[2]) / 2, (faces[0].box[1] + faces[0].box[3]) / 2)
    assert np.hypot(*np.subtract(found, expected)) < 0.2 * (upright.box[2] - upright.box[0])
    turned_sides = (faces[0].box[2] - faces[0].box[0], faces[0].box[3] - faces[0].box[1])
    upright_sides = (upright.box[2] - upright.box[0], upright.box[3] - upright.box[1])  # 91 x 117: taller than wide
    assert np.allclose(turned_sides, upright_sides[::-1] if quarter_turns % 2 else upright_sides, rtol=0.15)


def test_a_strip_on_its_side_is_turned_whole(pipeline, astronaut):
    """A 3:1 strip with a face lying at one end: a quarter-turned search copy lies the other way (it kept the photo's
    own width and height, so only the strip's middle was searched, and the face was found by another search with a
    box standing up)."""
    strip = np.full((480, 160, 3), 128, np.uint8)
    strip[:160] = astronaut[40:200, 140:300]
    strip = np.ascontiguousarray(np.rot90(strip))  # 160 x 480, the face on its side at the left end
    [face] = [face for face in pipeline.detect_photo(strip, {"detect faces": 0.0}) if face.kind == "human"]
    (left_x, left_y), (right_x, right_y) = face.landmarks[:2]
    assert abs(np.degrees(np.arctan2(right_y - left_y, right_x - left_x)) + 90) < 20 and face.box[2] < 160
    assert face.box[2] - face.box[0] > 1.1 * (face.box[3] - face.box[1])  # lying: wider than tall


def test_the_searches_merge_one_face_found_twice_but_never_two_faces(monkeypatch):
    """Two heads close together that one search found (its own suppression kept both) both stay; two doubtful faces
    that one turned face overlaps are not both replaced by it (the same face twice); a turned face lying on a sure
    face replaces nothing. The searches' answers are set by hand."""
    detector = detectors.MTCNNFaceDetector.__new__(detectors.MTCNNFaceDetector)
    detector.max_side = 1024
    photo = np.zeros((400, 400, 3), np.uint8)
    points = ((130, 150),) * 5
    left, right = Detection((100, 100, 200, 220), 0.97, landmarks=points), Detection((150, 100, 250, 220), 0.96)
    turned = Detection((120, 100, 230, 220), 0.999, landmarks=points)  # IoU 0.62 with each
    monkeypatch.setattr(detector, "_search", lambda rgb, padding, degrees, later: [turned] if degrees == 90 else [])
    assert detector.turned_over(photo, [left, right]) == [turned, right]
    sure = Detection((100, 100, 200, 220), 0.999)
    assert detector.turned_over(photo, [sure, right]) == [sure, right]
    close = [Detection((100, 100, 200, 220), 0.999), Detection((145, 100, 245, 220), 0.998)]  # IoU 0.38
    monkeypatch.setattr(detector, "_search", lambda rgb, padding, degrees, later: [] if later else close)
    assert detector.detect_padded(photo) == close


@pytest.mark.parametrize("size", [(2, 65_535), (65_535, 2)])
def test_a_thin_photo_is_searched_again_without_padding_it_at_full_size(pipeline, size):
    """A few kilobytes of PNG, 2 x 65,535 px (the longest side a photo may have): a border of a quarter of its length
    at full size would need 25 GB (at 1,000,000 px OpenCV raised "Insufficient memory", a 500); shrunk first, it is
    read and has no face."""
    width, height = size
    photo = io.BytesIO()
    Image.new("RGB", (width, height), (120, 120, 120)).save(photo, "PNG")
    assert pipeline.analyze_bytes(photo.getvalue()).detections == []


@pytest.mark.parametrize("name", ["coffee", "chelsea"])
@pytest.mark.parametrize("side", [None, 96, 64, 48])
def test_face_free_photos_stay_face_free(pipeline, name, side):
    photo = getattr(skdata, name)()
    if side:
        photo = np.asarray(Image.fromarray(photo).resize((side, side)))
    result = pipeline.analyze_bytes(jpeg_bytes(photo))
    assert [face for face in result.detections if face.kind == "human"] == []


def test_why_maps_explain_the_crop_the_pipeline_classified(pipeline, astronaut):
    """Analyses store boxes, not landmarks: the explainer finds the landmarks again near the box, so the
    probability it explains is the one the page shows."""
    from inference.explain import Explainer

    tilted = rotated(astronaut, 20)
    face = pipeline.analyze_bytes(jpeg_bytes(tilted)).detections[0]
    explained = Explainer.for_pipeline(pipeline).crop(tilted, tuple(face.box), "human")
    shown = pipeline.classifier.predict(explained[None])[0]
    assert shown.max() == pytest.approx(face.emotions[face.top], abs=0.02)
    assert pipeline.classifier.classes[int(shown.argmax())] == face.top


@pytest.mark.parametrize("name", ["beagle-close-up.jpg", "husky-painting.png"])
def test_a_photo_of_a_pet_is_searched_for_a_face_crop_once(pipeline, monkeypatch, name):
    """A pet's photo is no face crop: the wider border and the turns (three more MTCNN passes, 150-250 ms) are for
    photos without a pet."""
    searched = []
    search = pipeline.detector.detect_padded

    def counted(rgb, searches=detectors.CROP_SEARCHES):
        searched.append(len(searches))
        return search(rgb, searches)

    monkeypatch.setattr(pipeline.detector, "detect_padded", counted)
    kinds = [detection.kind for detection in pipeline.analyze_bytes((DATA / name).read_bytes()).detections]
    assert kinds == ["dog"] and searched == [1]
