"""alert_rule.dismissed_readings replaces dismissed_through: the readings (their analyses' ids, once per reading) of
the firing whose notice the owner dismissed; the notice comes back when the rule fires on a reading not among them.
The newest analysis id was not enough: a face of an older upload assigned to the subject later is a new reading too.
A rule dismissed before keeps what it meant: its subject's readings up to that analysis, within its window.

Revision ID: bb41000000e1
Revises: ba40000000d1
Create Date: 2026-12-08 04:20:00

"""
from datetime import datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa


revision = 'bb41000000e1'
down_revision = 'ba40000000d1'
branch_labels = None
depends_on = None

READINGS_UP_TO = sa.text(
    "SELECT detection.analysis_id FROM detection JOIN analysis ON analysis.id = detection.analysis_id "
    "WHERE detection.subject_id = :subject AND analysis.id <= :through AND analysis.created_at >= :since "
    "ORDER BY detection.analysis_id")
SET_READINGS = sa.text("UPDATE alert_rule SET dismissed_readings = :readings WHERE id = :rule").bindparams(
    sa.bindparam('readings', type_=sa.JSON()))


def upgrade():
    # Plain ALTER TABLE: a batch copy would drop the table's AUTOINCREMENT on SQLite (c0d1e2f3a4b5).
    op.add_column('alert_rule', sa.Column('dismissed_readings', sa.JSON(), nullable=True))
    bind = op.get_bind()
    now = datetime.now(timezone.utc).replace(tzinfo=None)  # stored times are naive UTC
    dismissed = bind.execute(sa.text(
        "SELECT id, subject_id, days, dismissed_through FROM alert_rule WHERE dismissed_through IS NOT NULL")).all()
    for rule, subject, days, through in dismissed:
        since = now - timedelta(days=days + 1)  # a day more: the window is on the owner's clock
        readings = bind.execute(READINGS_UP_TO, {'subject': subject, 'through': through, 'since': since}).scalars()
        bind.execute(SET_READINGS, {'readings': list(readings), 'rule': rule})
    op.drop_column('alert_rule', 'dismissed_through')


def downgrade():
    op.add_column('alert_rule', sa.Column('dismissed_through', sa.Integer(), nullable=True))
    bind = op.get_bind()
    dismissed = bind.execute(sa.text("SELECT id, dismissed_readings FROM alert_rule "
                                     "WHERE dismissed_readings IS NOT NULL").columns(
        sa.column('id', sa.Integer()), sa.column('dismissed_readings', sa.JSON()))).all()
    for rule, readings in dismissed:
        bind.execute(sa.text("UPDATE alert_rule SET dismissed_through = :through WHERE id = :rule"),
                     {'through': max(readings, default=0), 'rule': rule})
    op.drop_column('alert_rule', 'dismissed_readings')
