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
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from bench import ROOT

BUDGET_MB = 300
SIDE = 6320  # 39.9 megapixels: just under the default MAX_IMAGE_PIXELS
UPLOAD_BYTES = 10 * 1024 * 1024 - 70_000  # a photo just under the default MAX_UPLOAD_MB, with room for the request
WIDE = 19_999_999  # x 2 rows: just under the default MAX_IMAGE_PIXELS


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


def heif_photo(fmt: str, side: int = SIDE) -> Callable[[], bytes]:
    """A HEIC (pillow-heif's x265) or AVIF (Pillow's) photo of side x side: decoded in the app's HEIF child."""
    def build() -> bytes:
        photo = Image.new("RGB", (side, side), (120, 140, 160))
        if fmt == "AVIF":
            return encoded(photo, "AVIF", quality=50, speed=10)
        import pillow_heif

        buffer = io.BytesIO()
        pillow_heif.from_pillow(photo).save(buffer, format="HEIF", quality=50)
        return buffer.getvalue()
    return build


def progressive_jpeg(mode: str, side: int = SIDE, orientation: int = 1) -> Callable[[], bytes]:
    """A progressive JPEG without chroma subsampling (the decoder keeps every coefficient of every channel), with
    this EXIF orientation."""
    colour = (10, 20, 30, 40) if mode == "CMYK" else (120, 140, 160)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return lambda: encoded(Image.new(mode, (side, side), colour), "JPEG", quality=50, progressive=True,
                            subsampling=0, exif=exif)


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


def turned_jpeg(width: int, height: int, orientation: int) -> Callable[[], bytes]:
    """A JPEG of width x height whose EXIF orientation says how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    return lambda: encoded(Image.new("RGB", (width, height), (120, 140, 160)), "JPEG", quality=50, exif=exif)


def with_segments(photo: Callable[[], bytes], segment: bytes) -> Callable[[], bytes]:
    """The JPEG `photo` with as many copies of `segment` after its start of image as keep it under the upload limit
    (Pillow keeps every segment before the first scan: 50 to 120 bytes each, whatever its size)."""
    def build() -> bytes:
        content = photo()
        return content[:2] + segment * ((UPLOAD_BYTES - len(content)) // len(segment)) + content[2:]
    return build


def ordinary_photo(fmt: str = "JPEG") -> bytes:
    """A 600x400 JPEG (scikit-image's coffee cup), or in another format."""
    from skimage import data

    return encoded(Image.fromarray(data.coffee()), fmt, **({"quality": 90} if fmt == "JPEG" else {}))


def ordinary_png() -> bytes:
    return ordinary_photo("PNG")


def xmp_segment() -> bytes:
    """A full APP1 segment of XMP (64 KB): a photo edited for years in Photoshop carries megabytes of them."""
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + b"<x:xmpmeta/>".ljust(65_533 - 29, b" ")
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """A PNG chunk: its length, kind, payload and CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


PNG_LAYOUTS = {"RGBA": (6, 8, 4), "I;16": (0, 16, 2)}  # mode -> colour type, bit depth, bytes a pixel


def wide_png(mode: str, width: int = WIDE, height: int = 2) -> Callable[[], bytes]:
    """A PNG of width x height zero pixels (transparent where it has alpha), its chunks written here (Pillow's encoder
    takes minutes for rows of millions of pixels); about 80 to 160 KB."""
    colour_type, depth, pixel_bytes = PNG_LAYOUTS[mode]

    def build() -> bytes:
        compressor, zeros = zlib.compressobj(9), bytes(1 << 20)
        left, pixels = height * (1 + width * pixel_bytes), []  # each row: its filter byte (0) and its pixels
        while left:
            pixels.append(compressor.compress(zeros[:min(left, len(zeros))]))
            left -= min(left, len(zeros))
        header = struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + \
            png_chunk(b"IDAT", b"".join(pixels) + compressor.flush()) + png_chunk(b"IEND", b"")
    return build


def with_chunks(photo: Callable[[], bytes], chunks: Callable[[], list[bytes]]) -> Callable[[], bytes]:
    """The PNG `photo` with `chunks` (whole PNG chunks) after its header."""
    return lambda: (content := photo())[:33] + b"".join(chunks()) + content[33:]


def emoji_text_chunks(count: int = 64) -> list[bytes]:
    """`count` compressed text chunks of 1 MB unpacked each (about 1 KB packed), with an emoji in each: Python keeps
    such text at 4 bytes a character (64 of them cost +260 MB when Pillow allowed 64 M characters)."""
    text = zlib.compress(("\U0001f600" + "a" * 1_040_000).encode())
    return [png_chunk(b"iTXt", b"note%d\0\1\0\0\0" % number + text) for number in range(count)]


def fractions_orientation() -> list[bytes]:
    """An EXIF chunk whose orientation entry is 1.1 million fractions (9 MB: Pillow's EXIF reader made an object of
    each: +133 MB and 4 s for a 600x400 photo)."""
    count = 1_100_000
    entry = struct.pack("<HHII", 0x0112, 5, count, 26)
    return [png_chunk(b"eXIf", b"II*\x00" + struct.pack("<IH", 8, 1) + entry + bytes(4) + bytes(8 * count))]


def wide_bmp() -> bytes:
    """A 1-bit BMP of WIDE x 2 pixels (5 MB; +312 MB when it was read: OpenCV's area resize takes a table entry per
    column)."""
    return encoded(Image.new("1", (WIDE, 2)), "BMP")


def tracks_too_large_to_open() -> bytes:
    """A Matroska file of a 1080p HEVC track and two 8192x8192 H.264 ones (200 KB; made with FFmpeg): opening it cost
    +310 MB at upload and at every later opening, since FFmpeg decodes a frame of every track to open a file; now
    checked in a child process (inference/video_check.py, not counted here) and refused."""
    with tempfile.TemporaryDirectory() as folder:
        large, three = Path(folder) / "large.mkv", Path(folder) / "three.mkv"
        subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=8192x8192:d=0.25:r=4",
                        "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "51", "-pix_fmt",
                        "yuv420p", str(large)], check=True)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(ROOT / "tests" / "data" / "hevc-1080p.mkv"), "-i",
                        str(large), "-i", str(large), "-map", "0:v", "-map", "1:v", "-map", "2:v", "-c", "copy",
                        str(three)], check=True)
        return three.read_bytes()


CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "16-bit gray PNG 6320x6320": (gray16_png, "gray16.png"),
    "RGB PNG 6320x6320": (rgb_png, "rgb.png"),
    "RGBA PNG 6320x6320": (rgba_png, "rgba.png"),
    "JPEG 6320x6320": (rgb_jpeg, "big.jpg"),
    "progressive JPEG 6320x6320": (progressive_jpeg("RGB"), "progressive.jpg"),
    "progressive JPEG 5770x5770": (progressive_jpeg("RGB", 5770), "progressive.jpg"),
    "progressive CMYK 5000x5000": (progressive_jpeg("CMYK", 5000), "cmyk.jpg"),
    "progressive CMYK 6320x6320": (progressive_jpeg("CMYK"), "cmyk.jpg"),
    "HEIC 6320x6320": (heif_photo("HEIF"), "IMG_0001.HEIC"),
    "AVIF 6320x6320": (heif_photo("AVIF"), "photo.avif"),
    "WebP 4472x4472": (rgba_webp(4472), "photo.webp"),
    "WebP 6320x6320": (rgba_webp(SIDE), "big.webp"),
    "MJPEG AVI 12000x12000": (mjpeg_avi, "huge.avi"),
    "H.264 MP4, a 16000px frame": (h264_later_frame, "later.mp4"),
    "10-bit HEVC 3840x2160": (hevc_10_bit_4k, "hdr.mp4"),
    "MKV, 1080p + two 8192px tracks": (tracks_too_large_to_open, "tracks.mkv"),
    "ordinary 4K video, 4 s": (ordinary_4k_video, "4k.mp4"),
    "crowd photo, 256 faces": (crowd_photo, "crowd.jpg"),
    "JPEG, 2.6 million empty APP5": (with_segments(ordinary_photo, b"\xff\xe5\x00\x02"), "app5.jpg"),
    "JPEG, 2.6 million empty COM": (with_segments(ordinary_photo, b"\xff\xfe\x00\x02"), "com.jpg"),
    "JPEG, 9.9 MB of XMP": (with_segments(ordinary_photo, xmp_segment()), "xmp.jpg"),
    "progressive 6300x6300 turned, APP5": (with_segments(progressive_jpeg("RGB", 6300, orientation=6),
                                                         b"\xff\xe5\x00\x02"), "turned-app5.jpg"),
    "JPEG 5000x8000": (turned_jpeg(5000, 8000, 1), "upright.jpg"),
    "JPEG 5000x8000, orientation 6": (turned_jpeg(5000, 8000, 6), "turned.jpg"),
    "RGBA PNG 19999999x2": (wide_png("RGBA"), "wide-rgba.png"),
    "16-bit gray PNG 19999999x2": (wide_png("I;16"), "wide-gray16.png"),
    "1-bit BMP 19999999x2": (wide_bmp, "wide.bmp"),
    "PNG, 64 MB of emoji text": (with_chunks(ordinary_png, emoji_text_chunks), "text.png"),
    "PNG, 9 MB orientation": (with_chunks(ordinary_png, fractions_orientation), "orientation.png"),
    "RGBA PNG 65535x610": (wide_png("RGBA", 65_535, 610), "widest-rgba.png"),
    "16-bit gray PNG 65535x610": (wide_png("I;16", 65_535, 610), "widest-gray16.png"),
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

    with tempfile.TemporaryDirectory(prefix="moodlens-memory-") as instance:
        app = make_app(Path(instance), TESTING=False, SECRET_KEY="memory")
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
        return {"status": response.status_code, "growth_mb": round(peak_mb() - before, 1),
                "error": answer.get("error"), "detections": len(answer.get("detections", []))}


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
