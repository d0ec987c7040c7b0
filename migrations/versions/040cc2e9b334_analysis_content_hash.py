"""analysis.content_hash: the SHA-256 of each upload's bytes, indexed with its owner

A user's second upload of the same file is answered with the analysis of the first (services/copies.py), and
insights, alerts and face groups count one file once. Existing analyses are hashed from their stored files in
UPLOAD_FOLDER (each read once, a megabyte at a time; the uploads are stored as they came): copies uploaded before
this revision count once too. An analysis whose file is missing or unreadable keeps NULL and counts as before.

Revision ID: 040cc2e9b334
Revises: b9c0d1e2f3a4
Create Date: 2026-12-04 10:00:00

"""
import hashlib
import logging
from pathlib import Path

from alembic import op
from flask import current_app
import sqlalchemy as sa


revision = '040cc2e9b334'
down_revision = 'b9c0d1e2f3a4'
branch_labels = None
depends_on = None

CHUNK = 1 << 20
log = logging.getLogger("alembic.runtime.migration")
analysis = sa.table('analysis', sa.column('id', sa.Integer), sa.column('stored_name', sa.String),
                    sa.column('content_hash', sa.String))


def file_hash(path: Path) -> str | None:
    """The SHA-256 (hex) of the file's bytes; None when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with path.open('rb') as file:
            for chunk in iter(lambda: file.read(CHUNK), b''):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def upgrade():
    # Plain ALTER TABLE and CREATE INDEX: a batch copy of `analysis` would cascade-delete its detections on SQLite.
    op.add_column('analysis', sa.Column('content_hash', sa.String(length=64), nullable=True))
    folder = Path(current_app.config['UPLOAD_FOLDER'])
    connection = op.get_bind()
    rows = connection.execute(sa.select(analysis.c.id, analysis.c.stored_name).order_by(analysis.c.id)).all()
    hashed = 0
    for analysis_id, stored_name in rows:
        digest = file_hash(folder / Path(stored_name).name)  # a random name; never a path out of the folder
        if digest is not None:
            connection.execute(analysis.update().where(analysis.c.id == analysis_id).values(content_hash=digest))
            hashed += 1
    if rows:
        log.info("hashed the stored files of %d of %d analyses", hashed, len(rows))
    op.create_index('ix_analysis_user_id_content_hash', 'analysis', ['user_id', 'content_hash'])


def downgrade():
    op.drop_index('ix_analysis_user_id_content_hash', table_name='analysis')
    op.drop_column('analysis', 'content_hash')
