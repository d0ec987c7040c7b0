"""Fuzz: mutated photos and videos of every format (bit flips, truncations, length fields that lie) sent through
the upload form and the API. Every answer is a 2xx/3xx or a clear 4xx: zero 5xx.

The seed is fixed and the count bounded (FUZZ_CASES per format and mutation), so a failure names a case that
can be replayed: the format, the mutation and its index.
"""

from __future__ import annotations

import io
import random
import struct
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from PIL import Image

from bench.fixtures import csrf_token
from tests.conftest import upload

SEED = 19
FUZZ_CASES = 10  # per format and mutation: 7 formats x 3 mutations x 10 = 210 uploads


def _encoded(fmt: str) -> bytes:
    scene = np.zeros((48, 64, 3), np.uint8)
    scene[8:40, 16:48] = (200, 120, 60)
    buffer = io.BytesIO()
    Image.fromarray(scene).save(buffer, fmt)
    return buffer.getvalue()


def _video(tmp_path, name: str, fourcc: str) -> bytes:
    import cv2

    frames = [np.full((48, 64, 3), 40 * index, np.uint8) for index in range(4)]
    path = tmp_path / name
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 4.0, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path.read_bytes()


def png_length_fields(data: bytes) -> Iterator[tuple[int, str]]:
    position = 8
    while position + 8 <= len(data):
        yield position, ">I"
        position += 12 + struct.unpack(">I", data[position:position + 4])[0]


def riff_length_fields(data: bytes, start: int = 12, end: int | None = None) -> Iterator[tuple[int, str]]:
    """RIFF (WebP, AVI): each chunk's little-endian size, inside LIST chunks too."""
    yield 4, "<I"
    end = len(data) if end is None else end
    position = start
    while position + 8 <= end:
        size = struct.unpack("<I", data[position + 4:position + 8])[0]
        yield position + 4, "<I"
        if data[position:position + 4] == b"LIST":
            yield from list(riff_length_fields(data, position + 12, min(end, position + 8 + size)))[1:]
        position += 8 + size + (size & 1)


MP4_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf", b"udta"}


def mp4_length_fields(data: bytes, start: int = 0, end: int | None = None) -> Iterator[tuple[int, str]]:
    """MP4/MOV: each box's big-endian size, inside container boxes too."""
    end = len(data) if end is None else end
    position = start
    while position + 8 <= end:
        size = struct.unpack(">I", data[position:position + 4])[0]
        yield position, ">I"
        if data[position + 4:position + 8] in MP4_CONTAINERS:
            yield from mp4_length_fields(data, position + 8, min(end, position + size))
        if size < 8:
            return
        position += size


def jpeg_length_fields(data: bytes) -> Iterator[tuple[int, str]]:
    """JPEG: each marker segment's big-endian length, up to the start of the scan."""
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        yield position + 2, ">H"
        if data[position + 1] == 0xDA:
            return
        position += 2 + struct.unpack(">H", data[position + 2:position + 4])[0]


def header_fields(*offsets: tuple[int, str]) -> Callable[[bytes], Iterator[tuple[int, str]]]:
    return lambda data: iter(offsets)


BMP_FIELDS = header_fields((2, "<I"), (10, "<I"), (14, "<I"), (18, "<i"), (22, "<i"), (28, "<H"), (34, "<I"))
GIF_FIELDS = header_fields((6, "<H"), (8, "<H"), (10, "<B"))


def lie_about_a_length(data: bytes, fields: list[tuple[int, str]], rng: random.Random) -> bytes:
    position, layout = rng.choice(fields)
    largest = 2 ** (8 * struct.calcsize(layout) - (1 if layout[-1].islower() else 0)) - 1
    value = rng.choice([0, 1, largest, largest // 2, rng.randrange(largest), len(data), len(data) * 1000])
    lied = bytearray(data)
    struct.pack_into(layout, lied, position, min(value, largest))
    return bytes(lied)


def flip_bits(data: bytes, fields: list[tuple[int, str]], rng: random.Random) -> bytes:
    flipped = bytearray(data)
    for _ in range(rng.randint(1, 16)):
        position = rng.randrange(len(flipped))
        flipped[position] ^= 1 << rng.randrange(8)
    return bytes(flipped)


def truncate(data: bytes, fields: list[tuple[int, str]], rng: random.Random) -> bytes:
    return data[:rng.randrange(1, len(data))]


MUTATIONS = {"bit flips": flip_bits, "truncated": truncate, "length lie": lie_about_a_length}


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, tuple[bytes, str, Callable]]:
    """Each format's valid file, its upload name and where its length fields are."""
    videos = tmp_path_factory.mktemp("fuzz")
    return {
        "jpeg": (_encoded("JPEG"), "photo.jpg", jpeg_length_fields),
        "png": (_encoded("PNG"), "photo.png", png_length_fields),
        "webp": (_encoded("WEBP"), "photo.webp", riff_length_fields),
        "bmp": (_encoded("BMP"), "photo.bmp", BMP_FIELDS),
        "gif": (_encoded("GIF"), "photo.gif", GIF_FIELDS),
        "mp4": (_video(videos, "clip.mp4", "mp4v"), "clip.mp4", mp4_length_fields),
        "avi": (_video(videos, "clip.avi", "MJPG"), "clip.avi", riff_length_fields),
    }


def mutants(originals) -> Iterator[tuple[str, bytes, str]]:
    """(case name, mutated bytes, upload name): FUZZ_CASES of each mutation for each format, from SEED."""
    rng = random.Random(SEED)
    for fmt, (data, filename, fields) in originals.items():
        lengths = list(fields(data))
        assert lengths, f"no length fields found in the {fmt} file"
        for mutation, mutate in MUTATIONS.items():
            for index in range(FUZZ_CASES):
                yield f"{fmt} {mutation} #{index}", mutate(data, lengths, rng), filename


def test_mutated_uploads_never_get_a_5xx(app, client, alice, originals, capsys):
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a crash is a 500, as in production
    token = csrf_token(client, "/analyze")
    api = {"X-CSRFToken": token}
    server_errors, tried = [], 0
    for index, (case, content, filename) in enumerate(mutants(originals)):
        if index % 2:
            response = client.post("/api/v1/analyses", headers=api, data={"file": (io.BytesIO(content), filename)})
        else:
            response = upload(client, content, filename)
        tried += 1
        if response.status_code >= 500:
            server_errors.append(f"{case} ({'API' if index % 2 else 'form'}): {response.status_code}")
    with capsys.disabled():
        print(f"\nfuzz: {tried} mutated uploads, {len(server_errors)} answered 5xx")
    assert tried == 7 * 3 * FUZZ_CASES
    assert not server_errors, "\n".join(server_errors)
