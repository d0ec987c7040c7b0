"""Copies: one user's uploads of the same bytes (a photo shared twice from a phone, an upload retried). An analysis
keeps the SHA-256 of its upload (Analysis.content_hash); an upload of bytes the user already had analysed is answered
with that analysis. Different users' uploads are never compared."""

from __future__ import annotations

import hashlib
from typing import IO

from extensions import db
from models import Analysis, JobStatus

CHUNK = 1 << 20


def content_hash(stream: IO[bytes]) -> str:
    """The SHA-256 (hex) of a stream's bytes from where it stands to its end, read a chunk at a time; the stream is
    left where it stood."""
    start = stream.tell()
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK), b""):
        digest.update(chunk)
    stream.seek(start)
    return digest.hexdigest()


def earlier_upload(user_id: int, digest: str) -> Analysis | None:
    """The user's first analysis of the bytes with this hash that has not failed (done, or still queued or running),
    else None: bytes whose analysis failed are analysed again."""
    return db.session.scalar(
        db.select(Analysis).where(Analysis.user_id == user_id, Analysis.content_hash == digest,
                                  Analysis.status != JobStatus.FAILED)
        .order_by(Analysis.id).limit(1))
