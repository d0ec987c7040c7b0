"""Domain errors raised by the services; the web layer maps each to an HTTP status in one place (web/errors.py).
Media errors (unsupported, corrupt, too large) come from inference/errors.py."""

from __future__ import annotations

from inference.errors import MediaError
from messages import N_, Phrase


class NotFound(LookupError):
    """No such row for this user: another user's row is "not found" too, never "forbidden"."""


class Refused(ValueError):
    """A request the domain refuses as it stands (a face assigned to a dog, a name that is too long): its message
    says why, for the user."""


class Conflict(Refused):
    """The request clashes with what exists (a second subject of the same name)."""


class TooMany(Refused):
    """The user has as many of something under way as one may (queued "Why?" explanations): ask again later."""


class CannotDelete(Refused):
    """Files cannot be deleted just now (the storage went read-only, or its permissions changed): asked before any
    row goes, so nothing was deleted."""

    def __init__(self) -> None:
        super().__init__(Phrase(N_("The server cannot delete files just now (its storage is not writable), so nothing "
                                   "was deleted. Please try again later.")))


class StorageFailure(MediaError):
    """The upload could not be written (disk full, folder not writable); nothing was kept."""

    def __init__(self) -> None:
        super().__init__(Phrase(N_("The server could not store the file (its disk is full or not writable). "
                                   "Nothing was saved; please try again later.")))


BUSY_ANALYSING = N_("The server is busy analysing other uploads. Nothing was saved; please try again in a minute.")
BUSY_WITH_FRAMES = N_("The server is busy showing other video frames: please try again in a moment.")


class ServerBusy(MediaError):
    """Every analysis slot of this process (or every frame slot, for a stored video's frame) stayed taken
    (ANALYSIS_WAIT_SECONDS): nothing was decoded."""

    def __init__(self, message: str = BUSY_ANALYSING) -> None:
        super().__init__(Phrase(message))
