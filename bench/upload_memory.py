"""Peak memory of hostile uploads: small files that decode to huge images or videos.

    python -m bench.upload_memory [--only NAME]

Each file is uploaded through the JSON API with the app's test client, in a fresh process: the process first
uploads an ordinary photo (models loaded, one analysis done), then the hostile file, and reports how far the
second upload raised its peak resident memory (VmHWM, which counts what C libraries allocate too).
Target: no upload under the size limits raises the peak by more than 300 MB.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench import ROOT

BUDGET_MB = 300
SIDE = 6320  # 39.9 megapixels: just under the default MAX_IMAGE_PIXELS


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    """The image saved in `fmt` with Pillow's `options`, as bytes."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def gray16_png() -> bytes:
    """A 16-bit grayscale PNG of SIDE x SIDE (about 80 KB)."""
    return encoded(Image.fromarray(np.zeros((SIDE, SIDE), np.uint16)), "PNG")


def rgb_png() -> bytes:
    return encoded(Image.new("RGB", (SIDE, SIDE), (120, 140, 160)), "PNG")


def rgba_png() -> bytes:
    return encoded(Image.new("RGBA", (SIDE, SIDE), (120, 140, 160, 128)), "PNG")


def rgb_jpeg() -> bytes:
    return encoded(Image.new("RGB", (SIDE, SIDE), (120, 140, 160)), "JPEG", quality=50)


def progressive_jpeg(mode: str, side: int = SIDE) -> Callable[[], bytes]:
    """A progressive JPEG without chroma subsampling (the decoder keeps every coefficient of every channel)."""
    colour = (10, 20, 30, 40) if mode == "CMYK" else (120, 140, 160)
    return lambda: encoded(Image.new(mode, (side, side), colour), "JPEG", quality=50, progressive=True,
                            subsampling=0)


def rgba_webp(side: int) -> Callable[[], bytes]:
    """A lossy WebP with transparency (Pillow's decoder keeps two canvases and a frame copy beside the image)."""
    return lambda: encoded(Image.new("RGBA", (side, side), (120, 140, 160, 128)), "WEBP", quality=50)


def mjpeg_avi(side: int = 12000) -> bytes:
    """A one-frame Motion-JPEG AVI of side x side pixels (about 2 MB; refused as larger than 4K)."""
    import cv2

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "huge.avi"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 1.0, (side, side))
        writer.write(np.full((side, side, 3), 128, np.uint8))
        writer.release()
        return path.read_bytes()


def ordinary_4k_video() -> bytes:
    """Four seconds of 3840x2160 8-bit MPEG-4 at 30 fps, a face in one corner (about 10 MB, within every limit;
    +418 MB to analyse when its sampled frames went through eight at a time, +112 MB two at a time)."""
    import cv2
    from skimage import data

    side_by_side = cv2.resize(data.astronaut()[..., ::-1], (1280, 1080))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "4k.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (3840, 2160))
        for index in range(120):
            frame = np.full((2160, 3840, 3), 90 + index % 50, np.uint8)
            frame[:1080, :1280] = side_by_side
            writer.write(frame)
        writer.release()
        return path.read_bytes()


def hevc_10_bit_4k() -> bytes:
    """Four 3840x2160 frames of 10-bit HEVC, as a phone's HDR video (6 KB, tests/data; an ordinary 2 s clip of this
    kind cost +483 MB to analyse before such videos got half the pixel limit)."""
    return (ROOT / "tests" / "data" / "hevc-10bit-4k.mp4").read_bytes()


def h264_later_frame() -> bytes:
    """An MP4 of 64x64 H.264 frames with one of 16000x16000 among them (50 KB, tests/data; made with FFmpeg)."""
    return (ROOT / "tests" / "data" / "h264-later-frame-16000px.mp4").read_bytes()


def crowd_photo(tile: int = 40, across: int = 16) -> bytes:
    """A 640x640 JPEG of astronaut faces tiled 16 x 16 (about 160 KB; such a photo of 182 faces cost +1.7 GB when
    every face, and every candidate box of the detector, went through the networks at once)."""
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((140, 20, 330, 210)).resize((tile, tile))
    crowd = Image.new("RGB", (tile * across, tile * across))
    for row in range(across):
        for column in range(across):
            crowd.paste(face, (column * tile, row * tile))
    return encoded(crowd, "JPEG", quality=90)


CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "16-bit gray PNG 6320x6320": (gray16_png, "gray16.png"),
    "RGB PNG 6320x6320": (rgb_png, "rgb.png"),
    "RGBA PNG 6320x6320": (rgba_png, "rgba.png"),
    "JPEG 6320x6320": (rgb_jpeg, "big.jpg"),
    "progressive JPEG 6320x6320": (progressive_jpeg("RGB"), "progressive.jpg"),
    "progressive CMYK 5470x5470": (progressive_jpeg("CMYK", 5470), "cmyk.jpg"),
    "progressive CMYK 6320x6320": (progressive_jpeg("CMYK"), "cmyk.jpg"),
    "WebP 4472x4472": (rgba_webp(4472), "photo.webp"),
    "WebP 6320x6320": (rgba_webp(SIDE), "big.webp"),
    "MJPEG AVI 12000x12000": (mjpeg_avi, "huge.avi"),
    "H.264 MP4, a 16000px frame": (h264_later_frame, "later.mp4"),
    "10-bit HEVC 3840x2160": (hevc_10_bit_4k, "hdr.mp4"),
    "ordinary 4K video, 4 s": (ordinary_4k_video, "4k.mp4"),
    "crowd photo, 256 faces": (crowd_photo, "crowd.jpg"),
}


def peak_mb() -> float:
    """This process's peak resident memory in MB: Linux's VmHWM, its own since it started (ru_maxrss starts at the
    peak of the process that started it: in a test run grown past a GB it hid every growth)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024  # in kB


def _upload_twice(path: Path) -> dict:
    """In this (fresh) process: an ordinary photo, then the file at `path`; the second one's peak growth."""
    from bench.fixtures import make_app, make_user
    from bench.latency import test_photos

    app = make_app(Path(tempfile.mkdtemp(prefix="moodlens-memory-")), TESTING=False, SECRET_KEY="memory")
    make_user(app, "memory", "memory password")
    client = app.test_client()
    token = client.post("/api/v1/tokens", auth=("memory", "memory password")).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    def send(content: bytes, name: str):
        return client.post("/api/v1/analyses", headers=headers, data={"file": (io.BytesIO(content), name)})

    warm_up = send(next(iter(test_photos().values())), "warm-up.jpg")
    assert warm_up.status_code == 201, warm_up.get_data(as_text=True)
    before = peak_mb()
    response = send(path.read_bytes(), path.name)
    answer = response.get_json() or {}
    return {"status": response.status_code, "growth_mb": round(peak_mb() - before, 1), "error": answer.get("error"),
            "detections": len(answer.get("detections", []))}


def measure(content: bytes, filename: str) -> dict:
    """Upload `content` in a fresh process (after an ordinary photo); its status and peak memory growth in MB."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        finished = subprocess.run([sys.executable, "-m", "bench.upload_memory", "--child", str(path)], cwd=ROOT,
                                  capture_output=True, text=True, timeout=600)
    if finished.returncode != 0:
        raise RuntimeError(f"the measuring process failed:\n{finished.stderr[-3000:]}")
    return json.loads(finished.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="measure only the case whose name contains this text")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_upload_twice(args.child)))
        return
    print(f"{'upload':28} {'bytes':>10} {'status':>6} {'peak growth':>12}  answer")
    for name, (build, filename) in CASES.items():
        if args.only and args.only.lower() not in name.lower():
            continue
        content = build()
        result = measure(content, filename)
        answer = result["error"] or f"{result['detections']} found"
        print(f"{name:28} {len(content):>10} {result['status']:>6} {result['growth_mb']:>9.0f} MB  {answer}")
    print(f"target: every growth under {BUDGET_MB} MB")


if __name__ == "__main__":
    main()
