"""Scale-out throughput: video jobs on 1, 2 and 4 `flask jobs work` processes (RQ on Redis, PostgreSQL),
and the per-job overhead of that queue against the embedded worker thread.

    python -m bench.scale [--workers 1,2,4] [--clips 8] [--clip-seconds 10] [--threads 0] [--tiny 10]

Starts throw-away PostgreSQL and Redis servers on loopback (bench/services.py), one gunicorn web
process and N worker processes sharing an upload folder; submits --clips clips (one moving face,
640x360, 10 fps) through the API at once and times them until every one is done. Prints jobs per
minute and seconds of video analysed per second of wall time. --threads is each worker's
`flask jobs work --threads` (CPU threads for torch, OpenCV and ONNX Runtime; 0: all cores).

Overhead: --tiny one-second clips, one at a time, submitted through the API and polled every 20 ms
until done; the median turnaround with the embedded worker (`flask run`, SQLite) and with one Redis
worker (PostgreSQL). Their difference is what the queue and the second process cost per job.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import requests
from redis import Redis
from rq import Worker
from skimage import data as skdata

from bench.clips import another_copy, moving_faces_frames, write_video
from bench.server import AppServer, JobWorker, api_session, prepare_instance
from bench.services import PostgresServer, RedisServer
from models import JobStatus

OWNER = ("scale", "scale password")
POLL_SECONDS = 0.02


def submit(url: str, session: requests.Session, clip: Path) -> int:
    content = another_copy(clip.read_bytes(), uuid.uuid4().hex)  # one clip sent again is analysed again
    response = session.post(url + "/api/v1/analyses", files={"file": (clip.name, content)}, timeout=60)
    response.raise_for_status()
    return response.json()["id"]


def wait_done(url: str, session: requests.Session, analysis_id: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = session.get(f"{url}/api/v1/analyses/{analysis_id}", timeout=30).json()["status"]
        if status == JobStatus.DONE:
            return
        if status == JobStatus.FAILED:
            raise RuntimeError(f"analysis {analysis_id} failed")
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"analysis {analysis_id} is not done after {timeout} s")


def wait_for_workers(redis_url: str, count: int, timeout: float = 300) -> None:
    """Until `count` RQ workers are registered: they load the models before they register."""
    connection = Redis.from_url(redis_url)
    deadline = time.monotonic() + timeout
    while Worker.count(connection=connection) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"fewer than {count} workers started in {timeout} s")
        time.sleep(0.5)


def redis_settings(postgres: PostgresServer, redis: RedisServer, folder: Path, name: str) -> dict:
    return {"SQLALCHEMY_DATABASE_URI": postgres.create_database(name), "REDIS_URL": redis.url, "JOBS_MODE": "redis",
            "JOBS_QUEUE": name, "UPLOAD_FOLDER": str(folder / "uploads"), "SECRET_KEY": name,
            "RATELIMIT_ENABLED": False}


def throughput(postgres: PostgresServer, redis: RedisServer, folder: Path, workers: int, clips: list[Path],
               threads: int) -> float:
    """Seconds of wall time for all clips on `workers` worker processes."""
    settings = redis_settings(postgres, redis, folder, f"scale{workers}")
    prepare_instance(folder / f"web{workers}", *OWNER, settings=settings)
    pool = [JobWorker(folder / f"w{workers}-{n}", settings, threads) for n in range(workers)]
    with AppServer(folder / f"web{workers}", settings, workers=1) as server:
        try:
            for worker in pool:
                worker.spawn()
            wait_for_workers(redis.url, workers)
            session = api_session(server.url, *OWNER)
            began = time.monotonic()
            ids = [submit(server.url, session, clip) for clip in clips]
            for analysis_id in ids:
                wait_done(server.url, session, analysis_id)
            return time.monotonic() - began
        finally:
            for worker in pool:
                worker.stop()


def turnarounds(server: AppServer, clip: Path, count: int) -> list[float]:
    """Seconds from submit to done for `count` tiny jobs, one at a time (after one warm-up job)."""
    session = api_session(server.url, *OWNER)
    wait_done(server.url, session, submit(server.url, session, clip))
    times = []
    for _ in range(count):
        began = time.monotonic()
        wait_done(server.url, session, submit(server.url, session, clip))
        times.append(time.monotonic() - began)
    return times


def overhead(postgres: PostgresServer, redis: RedisServer, folder: Path, clip: Path, count: int) -> dict[str, float]:
    """Median turnaround of a tiny job: embedded worker against one Redis worker."""
    prepare_instance(folder / "embedded", *OWNER)
    with AppServer(folder / "embedded", {"RATELIMIT_ENABLED": False}) as server:
        embedded = statistics.median(turnarounds(server, clip, count))
    settings = redis_settings(postgres, redis, folder, "overhead")
    prepare_instance(folder / "queued", *OWNER, settings=settings)
    with AppServer(folder / "queued", settings, workers=1) as server, JobWorker(folder / "ow", settings):
        wait_for_workers(redis.url, 1)
        queued = statistics.median(turnarounds(server, clip, count))
    return {"embedded": embedded, "redis": queued}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per worker (0: all cores)")
    parser.add_argument("--tiny", type=int, default=10, help="tiny jobs for the overhead figure (0: skip)")
    args = parser.parse_args()
    astronaut = skdata.astronaut()
    with tempfile.TemporaryDirectory(prefix="moodlens-scale-") as name, PostgresServer() as postgres, \
            RedisServer() as redis:
        folder = Path(name)
        frames = moving_faces_frames(astronaut, int(args.clip_seconds * 10), faces=1)
        clips = [write_video(folder / f"clip{n}.mp4", frames, fps=10) for n in range(args.clips)]
        video_seconds = args.clips * args.clip_seconds
        print(f"{args.clips} clips of {args.clip_seconds:.0f} s (1 face), sampled at 4 fps; "
              f"threads per worker: {args.threads or 'all cores'}")
        print(f"{'workers':>8} {'wall s':>8} {'jobs/min':>9} {'video s/s':>10} {'speed-up':>9}")
        first = None
        for workers in [int(n) for n in args.workers.split(",")]:
            wall = throughput(postgres, redis, folder, workers, clips, args.threads)
            first = first or wall
            print(f"{workers:>8} {wall:>8.1f} {args.clips / wall * 60:>9.1f} {video_seconds / wall:>10.2f} "
                  f"{first / wall:>8.2f}x", flush=True)
        if args.tiny:
            tiny = write_video(folder / "tiny.mp4", frames[:10], fps=10)
            medians = overhead(postgres, redis, folder, tiny, args.tiny)
            print(f"tiny job (1 s clip), median submit-to-done: embedded {medians['embedded'] * 1000:.0f} ms, "
                  f"redis {medians['redis'] * 1000:.0f} ms, queue overhead "
                  f"{(medians['redis'] - medians['embedded']) * 1000:+.0f} ms per job")


if __name__ == "__main__":
    main()
