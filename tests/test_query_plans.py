"""SQLite's query plans for what grows with an account: no ANALYZE is ever run, so SQLite picks indexes by their
shape alone, and a wrong pick reads rows per row (SQLite only: tests/integration/test_postgres_suite.py does not
import this module)."""

from __future__ import annotations

import sqlalchemy as sa

from bench.fixtures import make_subject
from extensions import db
from models import Analysis, Detection, Subject
from services.analyses import HistoryFilter, newest_first
from services.copies import later_copy, repeated_appearance


def plan(query: sa.Select) -> str:
    statement = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    return "\n".join(row[-1] for row in db.session.execute(sa.text(f"EXPLAIN QUERY PLAN {statement}")))


def test_copies_and_a_subjects_analyses_are_found_by_their_indexes(app, alice):
    """SQLite took the user-and-status index for "a later copy" and the subject index for each analysis of a subject's
    history: every analysis read all its user's finished uploads, or all the subject's appearances (4,340 uploads: a
    dashboard took 4.7 s, a subject's history 2.4 s)."""
    subject_id = make_subject(app, alice, "Ana")
    with app.app_context():
        assert db.engine.dialect.name == "sqlite"
        copies = plan(db.select(sa.func.count(Analysis.id)).where(Analysis.user_id == alice, ~later_copy()))
        counted = plan(db.select(Detection.subject_id).join(Detection.analysis)
                       .where(Analysis.user_id == alice, ~repeated_appearance()))
        mine = db.select(Analysis).where(Analysis.user_id == alice)
        history = plan(HistoryFilter(subject=db.session.get(Subject, subject_id)).narrow(mine))
    assert "ix_analysis_user_id_content_hash_status (user_id=? AND content_hash=? AND status=?" in copies, copies
    assert "ix_analysis_user_id_content_hash (user_id=? AND content_hash=?" in counted, counted
    assert "CORRELATED" not in history and "ix_detection_subject_id" in history, history


def test_the_history_reads_a_users_newest_uploads_by_their_index(app, alice):
    """With only the user's other indexes SQLite sorted all of a user's uploads for each page of the history (20,000
    uploads: about 100 ms a page)."""
    with app.app_context():
        page = plan(newest_first(alice).limit(20))
    assert "ix_analysis_user_id_created_at (user_id=?)" in page and "TEMP B-TREE" not in page, page
