"""subject.name_key: subject names unique per user in any case ("Rex" and "rex"), kept by the database

Each subject gets the key its name is compared by (models.subject_name_key: the SHA-256 of the name after NFKC,
without invisible format characters, case-folded), and a unique index on (user_id, name_key). Where a user
already has several subjects whose names differ only so ("Rex", "rex"), the oldest keeps its name and each later
one is renamed NAME-ID (e.g. "rex-7"; NAME-ID-N if even that is taken), logged as a warning: no subject or
history is merged or lost.

Revision ID: e6f7a8b9c0d1
Revises: d5e6f7a8b9c0
Create Date: 2026-12-02 16:20:00

"""
import hashlib
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
    folded = "".join(char for char in normalised if unicodedata.category(char) != "Cf").casefold()
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()


def renamed_variant(name: str, subject_id: int, user_id: int, taken: set[tuple[int, str]]) -> str:
    """NAME-ID (NAME shortened to fit), with a further -N if even that is one name with a subject of the user."""
    for attempt in range(1, len(taken) + 2):
        suffix = f"-{subject_id}" if attempt == 1 else f"-{subject_id}-{attempt}"
        candidate = name[:NAME_LENGTH - len(suffix)] + suffix
        if (user_id, name_key(candidate)) not in taken:
            return candidate
    raise AssertionError("unreachable: fewer taken names than attempts")


def keyed_names(rows) -> dict[int, str]:
    """{subject id: new name} for the later of the names that are one with an older one of the same user; rows
    are (id, user_id, name) in id order. Every name that stays is taken before any variant is made, so a variant
    never takes a later subject's name."""
    keys = {subject_id: (user_id, name_key(name)) for subject_id, user_id, name in rows}
    first = {}
    for subject_id, _, _ in rows:
        first.setdefault(keys[subject_id], subject_id)
    taken = set(first)
    renamed = {}
    for subject_id, user_id, name in rows:
        if first[keys[subject_id]] != subject_id:
            renamed[subject_id] = renamed_variant(name, subject_id, user_id, taken)
            taken.add((user_id, name_key(renamed[subject_id])))
            log.warning("subject %d %r is one name with an older subject of user %d: renamed %r",
                        subject_id, name, user_id, renamed[subject_id])
    return renamed


def upgrade():
    # Plain ALTER TABLE and CREATE INDEX: a batch copy of `subject` would cascade-delete its alert rules on SQLite.
    op.add_column('subject', sa.Column('name_key', sa.String(length=64), nullable=True))
    connection = op.get_bind()
    rows = connection.execute(sa.select(subject.c.id, subject.c.user_id, subject.c.name).order_by(subject.c.id)).all()
    renamed = keyed_names(rows)
    for subject_id, _, name in rows:
        name = renamed.get(subject_id, name)
        connection.execute(subject.update().where(subject.c.id == subject_id)
                           .values(name=name, name_key=name_key(name)))
    op.create_index('ix_subject_user_id_name_key', 'subject', ['user_id', 'name_key'], unique=True)


def downgrade():
    """Drops the key; renamed subjects keep their new names."""
    op.drop_index('ix_subject_user_id_name_key', table_name='subject')
    op.drop_column('subject', 'name_key')
