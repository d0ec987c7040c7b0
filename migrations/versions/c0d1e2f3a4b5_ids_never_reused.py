"""ids never come back on SQLite: user, analysis, detection, subject and alert_rule get AUTOINCREMENT

SQLite gives a new row the largest id in its table + 1, so deleting the newest analysis gave its id to the next
upload: "analysis 26" in an administrator's notes, the logs or an old export could name two uploads (and the ids of
users, subjects, alerts and faces, which the pages' addresses carry, came back the same way). With AUTOINCREMENT
SQLite remembers the largest id ever given (sqlite_sequence). It cannot be added to a table, so each table is copied
into a new one with its rows, indexes and foreign keys (batch mode; env.py turns foreign keys off meanwhile, or
dropping the old table would cascade-delete every row that refers to it). PostgreSQL never gives a sequence's value
twice: nothing to do there.

The upgrade counts from the largest id still there: the ids of rows deleted above it before the upgrade may be given
once more.

Revision ID: c0d1e2f3a4b5
Revises: 040cc2e9b334
Create Date: 2026-12-04 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c0d1e2f3a4b5'
down_revision = '040cc2e9b334'
branch_labels = None
depends_on = None

TABLES = ('user', 'analysis', 'detection', 'subject', 'alert_rule')  # their ids are in addresses and exports


def copy_tables(autoincrement: bool) -> None:
    """SQLite: each table copied into a new one with or without AUTOINCREMENT, rows and all."""
    if op.get_bind().dialect.name != 'sqlite':
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate='always', table_kwargs={'sqlite_autoincrement': autoincrement}):
            pass


def upgrade():
    copy_tables(autoincrement=True)


def downgrade():
    """The tables without AUTOINCREMENT again, and SQLite's record of their largest ids gone."""
    copy_tables(autoincrement=False)
    if op.get_bind().dialect.name == 'sqlite':
        sequence = sa.table('sqlite_sequence', sa.column('name', sa.String))
        op.execute(sequence.delete().where(sequence.c.name.in_(TABLES)))
