"""Copies: one user's uploads of the same bytes (a photo shared twice from a phone, an upload retried). An analysis
keeps the SHA-256 of its upload (Analysis.content_hash); an upload of bytes the user already had analysed is answered
with that analysis, and the conditions here make insights, alerts and face groups count a file once, copies stored
before uploads were checked included. Analyses without a hash (their file was gone when the column came) count as
they are. Different users' uploads are never compared."""

from __future__ import annotations

import hashlib
from typing import IO

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import aliased

from extensions import db
from models import Analysis, Detection, JobStatus

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


def later_copy() -> ColumnElement[bool]:
    """For a query over Analysis: the analysis is a later upload of a file its owner had analysed before (an earlier
    finished analysis with the same hash). Its faces are the earlier one's, so face groups leave them out."""
    earlier = aliased(Analysis)
    return exists().where(earlier.user_id == Analysis.user_id, earlier.content_hash == Analysis.content_hash,
                          earlier.id < Analysis.id, earlier.status == JobStatus.DONE)


def repeated_appearance() -> ColumnElement[bool]:
    """For a query over Detection joined to its Analysis: the detection's subject already appears in an earlier upload
    of the same file, so this appearance is one already counted. Only the first copy that shows the subject counts,
    with all its appearances of it (a dog that leaves a video and comes back is two tracks, as before)."""
    earlier, earlier_appearance = aliased(Analysis), aliased(Detection)
    return exists().where(earlier_appearance.analysis_id == earlier.id,
                          earlier_appearance.subject_id == Detection.subject_id,
                          earlier.user_id == Analysis.user_id, earlier.content_hash == Analysis.content_hash,
                          earlier.id < Analysis.id)
