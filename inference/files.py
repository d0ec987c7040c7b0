"""Files that appear whole or not at all, readable by their owner only (0600).

A file is written under a temporary name in its target's folder, flushed to the disk, then renamed over the
target (os.replace, atomic within a file system); on any failure (a full disk, an interrupted write) the
temporary file is removed, so a reader never sees half a file and a failed save leaves nothing behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file to write that appears at `path` only once the block ends without an error."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_atomic(path: Path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all (raises OSError)."""
    with atomic_file(path) as file:
        file.write(data)
    return path
