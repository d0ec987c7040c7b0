"""user.session_token (revocable sessions), usernames lower-case (unique case-insensitively)

Usernames become lower-case. Where several accounts differ only in case ("Alice", "alice"), the oldest one
(lowest id) keeps the name and each later one is renamed NAME-ID (e.g. "alice-7"), logged as a warning:
no account or data is merged or lost, and an admin tells the renamed users their new name. Every user gets
a fresh session token, so sessions and remember-me cookies from before the upgrade end.

Revision ID: d1e2f3a4b5c6
Revises: 5e6f7a8b9c0d
Create Date: 2026-12-01 13:30:00

"""
import logging
import secrets

from alembic import op
import sqlalchemy as sa


revision = 'd1e2f3a4b5c6'
down_revision = '5e6f7a8b9c0d'
branch_labels = None
depends_on = None

USERNAME_LENGTH = 32
log = logging.getLogger("alembic.runtime.migration")
user = sa.table('user', sa.column('id', sa.Integer), sa.column('username', sa.String),
                sa.column('session_token', sa.String))


def renamed_variant(name: str, user_id: int, taken: set[str]) -> str:
    """NAME-ID (NAME shortened to fit), with a further -N if even that is taken."""
    for attempt in range(1, len(taken) + 2):
        suffix = f"-{user_id}" if attempt == 1 else f"-{user_id}-{attempt}"
        candidate = name[:USERNAME_LENGTH - len(suffix)] + suffix
        if candidate not in taken:
            return candidate
    raise AssertionError("unreachable: fewer taken names than attempts")


def new_usernames(rows) -> tuple[dict[int, str], dict[int, str]]:
    """({user id: NAME-ID} for the later case variants, {user id: lower-case name} for the others whose name
    changes); rows are (id, username) in id order."""
    taken = {name.strip().lower() for _, name in rows}
    kept: set[str] = set()
    variants, lowered = {}, {}
    for user_id, name in rows:
        lower = name.strip().lower()
        if lower in kept:
            variants[user_id] = renamed_variant(lower, user_id, taken)
            taken.add(variants[user_id])
            log.warning("user %d %r differs from an older account only in case: renamed %r",
                        user_id, name, variants[user_id])
        else:
            kept.add(lower)
            if lower != name:
                lowered[user_id] = lower
    return variants, lowered


def lower_case_usernames(connection) -> None:
    rows = connection.execute(sa.select(user.c.id, user.c.username).order_by(user.c.id)).all()
    variants, lowered = new_usernames(rows)
    # variants first: a kept name made lower-case may be a variant's old name ("Alice" kept, "alice" renamed)
    for changes in (variants, lowered):
        for user_id, name in changes.items():
            connection.execute(user.update().where(user.c.id == user_id).values(username=name))


def upgrade():
    connection = op.get_bind()
    lower_case_usernames(connection)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    for (user_id,) in connection.execute(sa.select(user.c.id)).all():
        connection.execute(user.update().where(user.c.id == user_id).values(session_token=secrets.token_urlsafe(32)))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_index(batch_op.f('ix_user_session_token'), ['session_token'], unique=True)


def downgrade():
    """Drops the session tokens; usernames stay lower-case."""
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_session_token'))
        batch_op.drop_column('session_token')
