"""Work on an uploaded file in a process of its own, with a ceiling on its memory: the building blocks of the children
that open and decode videos (inference.video_check, inference.video_decode) and decode HEIC and AVIF photos
(inference.heif).

A child is started from the project's folder (`start_child`) with the signals that stop a service held back, dies with
the thread that started it (`end_with_parent`), runs its work on a stack mapped before its ceiling is set
(`run_reserved`), watches its own memory (`MemoryCeiling`) and answers through an unnamed file (`answered`,
`write_answer`); its parent waits a limited time (`run_for`) and reads the answer (`read_back`, `answer_of`): a child
killed by the kernel or by an allocation it did not survive needed too much memory, one that crashed on the file was
given a damaged or hostile file.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from inference.errors import MediaError, MediaTooLarge, UnsupportedMediaType
from messages import Phrase

PROJECT_ROOT = Path(__file__).resolve().parents[1]  # a child runs from here: `python -m` looks here first


# Held back in a child: a service that stops sends every process of its unit SIGTERM (systemd's default), and
# a worker that finishes its job first (its warm shutdown) needs the child it reads from. A parent ends its children
# itself (SIGKILL), and a decoding child whose parent is gone ends on its broken pipe.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGTSTP)


PARENT_VARIABLE = "MOODLENS_VIDEO_PARENT"  # the process that started a child (`end_with_parent`)
PR_SET_PDEATHSIG = 1  # prctl's option: the signal a process gets when the thread that started it ends
PR_SET_NO_NEW_PRIVS = 38  # prctl's option: nothing the process executes gains privileges (set-user-ID programs)


def start_child(command: list[str], **options: object) -> subprocess.Popen:
    """A child that reads an upload (inference.video_check's checks, inference.video_decode's and inference.heif's
    decoding): `command` started from the project's folder (`python -m` looks there first), with STOP_SIGNALS
    blocked (a thread's signal mask is kept through fork and exec), one OpenCV thread (its pool starts one per core,
    each with an 8 MB stack, counted against the child's ceiling: a 64-core machine refused every 4K clip) and one
    glibc arena for all its threads (each reserved 64 MB of address space; with two, the work's thread,
    `run_reserved`, and FFmpeg's shared the second, and an ordinary 4K clip's decoding grew by 305 MB, not 281:
    `python -m bench.decode_memory`)."""
    environment = {**os.environ, "MALLOC_ARENA_MAX": "1", "OPENCV_FOR_THREADS_NUM": "1",
                   PARENT_VARIABLE: str(os.getpid())}
    held = signal.pthread_sigmask(signal.SIG_BLOCK, [])  # read before the try: a handler may raise inside the call
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, env=environment, cwd=PROJECT_ROOT, **options)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def end_with_parent() -> None:
    """In a child: killed when the thread that started it ends, and ended now if it has already (an orphan holds back
    the signals that stop it, and would finish its check or its seek, up to a minute, for no one); and unable to gain
    privileges by what it executes, should a decoder be made to run something."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if str(os.getppid()) != os.environ.get(PARENT_VARIABLE, str(os.getppid())):
        os._exit(1)


CHILD_STACK = 16 * 2**20  # the stack a child's work runs on, mapped whole before its ceiling is set


def run_reserved(work: Callable[[], None]) -> None:
    """A child's entry: `end_with_parent`, then `work` on a thread whose whole stack (CHILD_STACK) is mapped
    before `work` sets its ceiling, its exception raised here. The main thread's stack is mapped as it grows, and
    under the ceiling's RLIMIT_AS a growth that finds the address space full is a SIGSEGV, which `answer_of` takes
    for a crash on the file: a child out of memory was told as a damaged file."""
    end_with_parent()
    failures: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as failure:  # raised in the main thread, as before: the child ends with its traceback
            failures.append(failure)

    threading.stack_size(CHILD_STACK)
    worker = threading.Thread(target=guarded, name="video-child")
    worker.start()
    worker.join()
    if failures:
        raise failures[0]


# The signals of a library crashing on what it read (a bad address, a bad instruction): the file is damaged or
# hostile, not too large. What else ends a child (SIGKILL from the kernel out of memory, SIGABRT from an allocation a
# library does not survive) is the memory it needed: it holds back the signals that stop a service (STOP_SIGNALS).
CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})


def answer_of(returncode: int, said: bytes, too_much_memory: str, kinds: tuple[type, ...] = ()) -> object:
    """What a child that ended with `returncode` answered (`said`: None or an instance of one of `kinds`), its
    MediaError raised, or NO_ANSWER (it failed, or crashed on the file: one of CRASH_SIGNALS). Ended by another
    signal: MediaTooLarge saying `too_much_memory`."""
    if returncode < 0 and -returncode not in CRASH_SIGNALS:
        raise MediaTooLarge(Phrase(too_much_memory))
    outcome = _read_answer(said, kinds) if returncode == 0 else NO_ANSWER
    if isinstance(outcome, MediaError):
        raise outcome
    return outcome


NO_ANSWER = object()


def write_answer(descriptor: str, outcome: object) -> None:
    """A child's answer, pickled into the unnamed file its parent passed it (`descriptor`)."""
    with open(int(descriptor), "wb") as answer:
        answer.write(pickle.dumps(outcome))


def read_back(answer: BinaryIO) -> bytes:
    """What a child wrote into the unnamed file `answer` (it shares the file's offset with its parent)."""
    answer.seek(0)
    return answer.read()


def _read_answer(said: bytes, kinds: tuple[type, ...]) -> object:
    """A child's pickled answer (written by this project's children, never by a client): None, a MediaError or an
    instance of one of `kinds`; else NO_ANSWER."""
    try:
        outcome = pickle.loads(said)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError, TypeError):
        return NO_ANSWER
    return outcome if outcome is None or isinstance(outcome, (MediaError, *kinds)) else NO_ANSWER


def status_bytes(field: str) -> int:
    """A size this process's /proc status gives (VmSize and VmRSS: its address space and resident memory now; VmPeak
    and VmHWM: the most of each it had), in bytes."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


class MemoryCeiling:
    """A child's watch over its own memory, from when it was made: its address space may grow by `ceiling` (an
    allocation past it fails); `exceeded` once its peak resident size has grown by more than `memory`, or its peak
    address space by more than `address_space`."""

    def __init__(self, memory: int, address_space: int, ceiling: int) -> None:
        self.memory, self.address_space = memory, address_space
        self.resident_at_start, self.address_space_at_start = status_bytes("VmRSS"), status_bytes("VmSize")
        limit = self.address_space_at_start + ceiling
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))

    def exceeded(self) -> bool:
        return status_bytes("VmHWM") - self.resident_at_start > self.memory \
            or status_bytes("VmPeak") - self.address_space_at_start > self.address_space


def run_for(command: list[str], seconds: float, pass_fds: tuple[int, ...]) -> tuple[int, bytes]:
    """A child started (`start_child`) and waited for at most `seconds`: its return code and what it printed. Past
    its time, or when this process stops waiting (a job's time limit, Ctrl-C), it is killed (it holds back the
    signals that would stop it) and subprocess.TimeoutExpired or the interruption is raised."""
    child = start_child(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=pass_fds)
    try:
        printed = child.communicate(timeout=seconds)[0]
        return child.returncode, printed
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


def answered(work: Callable[[], object], ceiling: MemoryCeiling, answer: str, too_much_memory: str) -> None:
    """A child's side: `work` run, and what it returned, or the MediaError it raised, pickled into the file whose
    descriptor is `answer`. A library may survive a failed allocation and call the file damaged, so past the
    ceiling's figures any answer but a refusal for size or type is MediaTooLarge saying `too_much_memory`."""
    outcome: object
    try:
        outcome = work()
    except MemoryError:
        outcome = MediaTooLarge(Phrase(too_much_memory))
    except MediaError as error:
        outcome = error
    if ceiling.exceeded() and not isinstance(outcome, (MediaTooLarge, UnsupportedMediaType)):
        outcome = MediaTooLarge(Phrase(too_much_memory))
    write_answer(answer, outcome)
