"""The one JSON shape of an analysis, for the API and `flask analyze --json`: photos list their detections,
videos their tracks with timelines; an analysis that was not stored (the CLI) has no id and no date."""

from __future__ import annotations

from datetime import datetime

from models import Analysis, Detection, JobStatus, Media


def iso_utc(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat() + "Z"


def detection_document(detection: Detection) -> dict:
    return {"kind": detection.kind, "box": detection.box, "score": round(detection.score, 4),
            "emotions": detection.emotions, "top": detection.top}


def track_document(detection: Detection) -> dict:
    return {"track_id": detection.track_id, "kind": detection.kind, "summary": detection.summary,
            "timeline": detection.timeline, "transitions": detection.transitions}


def analysis_document(analysis: Analysis) -> dict:
    """The analysis as JSON: what it is, its state, and what was found."""
    document = {
        "id": analysis.id,
        "status": analysis.status,
        "media": analysis.media,
        "created_at": iso_utc(analysis.created_at) if analysis.created_at else None,
        "filename": analysis.original_name,
        "width": analysis.width,
        "height": analysis.height,
        "model": {"detector": analysis.detector, "classifier": analysis.classifier},
    }
    if JobStatus(analysis.status).active:
        document["progress"] = analysis.progress
    if analysis.status == JobStatus.FAILED:
        document["error"] = analysis.error
    if analysis.media == Media.VIDEO:
        document.update(duration=analysis.duration, fps_sampled=analysis.fps_sampled,
                        tracks=[track_document(detection) for detection in analysis.detections])
    else:
        document["detections"] = [detection_document(detection) for detection in analysis.detections]
    return document
