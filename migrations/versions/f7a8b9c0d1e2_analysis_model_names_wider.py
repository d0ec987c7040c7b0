"""analysis.detector and analysis.classifier: 512 characters, not 128

The face detector, the pet detector and the pet crop model together are described in more than 128 characters:
the description was cut, and the admin's details page showed it so.

SQLite keeps a VARCHAR of any length, so there only the declared length stays as it was: widening it would take a
batch copy of `analysis`, and dropping the old table would cascade-delete its detections and explanation jobs.

Revision ID: f7a8b9c0d1e2
Revises: e6f7a8b9c0d1
Create Date: 2026-12-02 19:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'f7a8b9c0d1e2'
down_revision = 'e6f7a8b9c0d1'
branch_labels = None
depends_on = None

COLUMNS = ('detector', 'classifier')
OLD_LENGTH, NEW_LENGTH = 128, 512
analysis = sa.table('analysis', *(sa.column(name, sa.String) for name in COLUMNS))


def resize(length: int, was: int) -> None:
    """Each column declared `length` characters long (plain ALTER TABLE; nothing to do on SQLite)."""
    if op.get_bind().dialect.name == 'sqlite':
        return
    for name in COLUMNS:
        op.alter_column('analysis', name, type_=sa.String(length=length), existing_type=sa.String(length=was),
                        existing_nullable=True)


def upgrade():
    resize(NEW_LENGTH, OLD_LENGTH)


def downgrade():
    """Names longer than 128 characters are cut to 128, as the app cut them before."""
    for name in COLUMNS:
        column = analysis.c[name]
        op.execute(analysis.update().where(sa.func.length(column) > OLD_LENGTH)
                   .values({name: sa.func.substr(column, 1, OLD_LENGTH)}))
    resize(OLD_LENGTH, NEW_LENGTH)
