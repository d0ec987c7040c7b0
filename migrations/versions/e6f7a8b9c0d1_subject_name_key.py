"""subject.name_key: subject names unique per user in any case ("Rex" and "rex"), kept by the database

Each subject gets the key its name is compared by (models.subject_name_key: NFKC, invisible format characters
left out, case-folded), and a unique index on (user_id, name_key). Where a user already has several subjects
whose names differ only so ("Rex", "rex"), the oldest keeps its name and each later one is renamed NAME-ID
(e.g. "rex-7"), logged as a warning: no subject or history is merged or lost.

Revision ID: e6f7a8b9c0d1
Revises: d5e6f7a8b9c0
Create Date: 2026-12-02 16:20:00

"""
import logging
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = 'e6f7a8b9c0d1'
down_revision = 'd5e6f7a8b9c0'
branch_labels = None
depends_on = None

NAME_LENGTH = 64
log = logging.getLogger("alembic.runtime.migration")
subject = sa.table('subject', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                   sa.column('name', sa.String), sa.column('name_key', sa.String))


def name_key(name: str) -> str:
    """models.subject_name_key as of this revision (a migration does not import the app's models)."""
    normalised = unicodedata.normalize("NFKC", name)
    return "".join(char for char in normalised if unicodedata.category(char) != "Cf").casefold()


def keyed_names(rows) -> dict[int, tuple[str, str]]:
    """{subject id: (name, key)} for rows (id, user_id, name) in id order; later names one with an earlier
    one of the same user become NAME-ID."""
    taken: set[tuple[int, str]] = set()
    names = {}
    for subject_id, user_id, name in rows:
        original, attempt = name, 1
        while (user_id, name_key(name)) in taken:
            suffix = f"-{subject_id}" if attempt == 1 else f"-{subject_id}-{attempt}"
            name, attempt = original[:NAME_LENGTH - len(suffix)] + suffix, attempt + 1
        if name != original:
            log.warning("subject %d %r is one name with an older subject of user %d: renamed %r",
                        subject_id, original, user_id, name)
        taken.add((user_id, name_key(name)))
        names[subject_id] = name, name_key(name)
    return names


def upgrade():
    # Plain ALTER TABLE and CREATE INDEX: a batch copy of `subject` would cascade-delete its alert rules on SQLite.
    op.add_column('subject', sa.Column('name_key', sa.String(length=256), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(subject.c.id, subject.c.user_id, subject.c.name).order_by(subject.c.id)).all()
    for subject_id, (name, key) in keyed_names(rows).items():
        connection.execute(subject.update().where(subject.c.id == subject_id).values(name=name, name_key=key))
    op.create_index('ix_subject_user_id_name_key', 'subject', ['user_id', 'name_key'], unique=True)


def downgrade():
    """Drops the key; renamed subjects keep their new names."""
    op.drop_index('ix_subject_user_id_name_key', table_name='subject')
    op.drop_column('subject', 'name_key')
