"""Exceptions the pipeline raises for input it cannot analyse.

Each carries a message fit to show to the person who uploaded the file.
"""


class MediaError(ValueError):
    """The file cannot be analysed; the message says why."""


class UnsupportedMediaType(MediaError):
    """The content is not one of the supported formats (decided by content, not name)."""


class CorruptMedia(MediaError):
    """The content claims a supported format but cannot be decoded."""


class MediaTooLarge(MediaError):
    """The media exceeds a pixel or duration limit."""
