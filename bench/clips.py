"""Small real test scenes: scikit-image's astronaut face(s) drifting over a plain wall (clips written
with OpenCV), and the dogs of tests/data pasted on a lawn; another copy of a photo or clip, as other bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench import ROOT


def another_copy(content: bytes, label: str) -> bytes:
    """The same JPEG photo or MP4 video as other bytes: a comment segment after the JPEG's start marker, or a `free`
    box at the MP4's end (decoders skip both). A second upload of identical bytes is answered with the first analysis
    (services/copies.py), so a benchmark or test that wants the work done again sends another copy."""
    note = label.encode()
    if content[:2] == b"\xff\xd8":
        return content[:2] + b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note + content[2:]
    if content[4:8] == b"ftyp":
        return content + (len(note) + 8).to_bytes(4, "big") + b"free" + note
    raise ValueError("another_copy makes copies of JPEG photos and MP4 videos only")


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0, codec: str = "mp4v") -> Path:
    """Write RGB frames with OpenCV: an MP4 (mp4v) file, or with codec="VP80" a WebM (VP8, which browsers play)."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    for frame in frames:
        writer.write(np.ascontiguousarray(frame[..., ::-1]))
    writer.release()
    return path


def moving_faces_frames(astronaut: np.ndarray, count: int, faces: int = 1) -> list[np.ndarray]:
    """A 640x360 clip: up to 3 real faces (the astronaut, downscaled, every other one mirrored) over a
    grey wall, drifting right by 2 px a frame and back again every 30 frames (a 60 px triangle wave)."""
    face = np.asarray(Image.fromarray(astronaut[20:260, 120:340]).resize((150, 164)))
    frames = []
    for index in range(count):
        canvas = np.full((360, 640, 3), 190, np.uint8)
        for slot in range(faces):
            drift = index * 2 % 120
            x = 20 + slot * 200 + (drift if drift <= 60 else 120 - drift)
            canvas[90:254, x:x + 150] = face if slot % 2 == 0 else face[:, ::-1]
        frames.append(canvas)
    return frames


TEST_DATA = ROOT / "tests" / "data"


def dog_scene(name: str, scale: int = 2, offset: tuple[int, int] = (60, 40)) -> tuple[np.ndarray, tuple]:
    """A dog from tests/data (transparent background) enlarged and pasted on a plain 640x520 lawn-green
    background; returns the RGB scene and the dog's box (its opaque pixels)."""
    dog = Image.open(TEST_DATA / name).convert("RGBA")
    dog = dog.resize((dog.width * scale, dog.height * scale), Image.BICUBIC)
    scene = Image.new("RGBA", (640, 520), (120, 160, 90, 255))
    scene.alpha_composite(dog, offset)
    x1, y1, x2, y2 = dog.getchannel("A").point(lambda alpha: 255 if alpha > 128 else 0).getbbox()
    return np.asarray(scene.convert("RGB")), (x1 + offset[0], y1 + offset[1], x2 + offset[0], y2 + offset[1])
