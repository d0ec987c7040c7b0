"""The file formats an upload is read as (`FileFormat`), those it is stored in (an analysis's `format`), and what a
browser is told each stored one is."""

from enum import StrEnum


class FileFormat(StrEnum):
    """An upload's format, by its content (stored as these strings)."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    BMP = "bmp"
    HEIC = "heic"  # HEIC and AVIF photos are read, and stored as the JPEG made of them (few browsers show them)
    AVIF = "avif"
    MP4 = "mp4"
    MOV = "mov"
    WEBM = "webm"  # and MKV: Matroska
    AVI = "avi"


MIME_TYPES: dict[FileFormat, str] = {
    FileFormat.JPEG: "image/jpeg", FileFormat.PNG: "image/png", FileFormat.WEBP: "image/webp",
    FileFormat.BMP: "image/bmp", FileFormat.MP4: "video/mp4", FileFormat.MOV: "video/quicktime",
    FileFormat.WEBM: "video/webm", FileFormat.AVI: "video/x-msvideo"}  # the formats uploads are stored in
KEPT_FORMAT = FileFormat.JPEG  # how a HEIC or AVIF photo is stored
ISO_MOVIES = frozenset({FileFormat.MP4, FileFormat.MOV})  # ISO base media files (movie_index, movie_metadata)
