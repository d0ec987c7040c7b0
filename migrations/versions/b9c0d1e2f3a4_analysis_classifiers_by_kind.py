"""analysis.classifiers: the emotion model that read each kind of detection ({"human": name, "dog": name})

`analysis.classifier` lists every emotion model the pipeline had in one line ("emotion_fer2013: vgg+vgg +
efficientnet-lite0 ensemble of 3 (dog_emotion_head, …)"), so a face's reading seemed to name the dog model too.
Older analyses get their models by kind from that line: the pipeline wrote the face model first, then the dog's
and the cat's, joined by " + "; each pet model's name starts "efficientnet-lite0 " (it may hold a " + " of its own:
"efficientnet-lite0 + linear head") and names its weights file, a cat's starting "cat".

Revision ID: b9c0d1e2f3a4
Revises: a8b9c0d1e2f3
Create Date: 2026-12-03 23:00:00

"""
import re

from alembic import op
import sqlalchemy as sa


revision = 'b9c0d1e2f3a4'
down_revision = 'a8b9c0d1e2f3'
branch_labels = None
depends_on = None

analysis = sa.table('analysis', sa.column('classifier', sa.String), sa.column('classifiers', sa.JSON))
PET_MODEL = re.compile(r" \+ (?=efficientnet-lite0 )")  # the " + " before a pet model's name
PET_WEIGHTS = re.compile(r"\((\w+), test macro-F1")  # "efficientnet-lite0 … (dog_emotion_head, test macro-F1 0.541)"


def by_kind(line: str) -> dict[str, str]:
    """The models of one `classifier` line by the kind each read."""
    face, *pets = PET_MODEL.split(line)
    models = {"human": face}
    for name in pets:
        weights = PET_WEIGHTS.search(name)
        models["cat" if weights and weights.group(1).startswith("cat") else "dog"] = name
    return models


def upgrade():
    # Plain ALTER TABLE: a batch copy of `analysis` would cascade-delete its detections on SQLite.
    op.add_column('analysis', sa.Column('classifiers', sa.JSON(), nullable=True))
    lines = op.get_bind().scalars(sa.select(analysis.c.classifier).where(analysis.c.classifier.is_not(None))
                                  .distinct()).all()
    for line in lines:  # a few: one a version of the models
        op.execute(analysis.update().where(analysis.c.classifier == line).values(classifiers=by_kind(line)))


def downgrade():
    op.drop_column('analysis', 'classifiers')
