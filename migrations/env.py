"""Alembic's environment (Flask-Migrate's template): runs the migrations of migrations/versions against the app's
database, leaving the loggers that exist already enabled."""

import logging
from logging.config import fileConfig

from flask import current_app

from alembic import context

# this is the Alembic Config object, which provides
# access to the values within the .ini file in use.
config = context.config

# Interpret the config file for Python logging; the loggers that exist already (the app's, when a process upgrades
# the database of an app it made: `flask db upgrade`, the tests) stay enabled.
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger('alembic.env')


def get_engine():
    return current_app.extensions['migrate'].db.engine


def get_engine_url():
    try:
        return get_engine().url.render_as_string(hide_password=False).replace(
            '%', '%%')
    except AttributeError:
        return str(get_engine().url).replace('%', '%%')


# add your model's MetaData object here
# for 'autogenerate' support
# from myapp import mymodel
# target_metadata = mymodel.Base.metadata
config.set_main_option('sqlalchemy.url', get_engine_url())
target_db = current_app.extensions['migrate'].db

# other values from the config, defined by the needs of env.py,
# can be acquired:
# my_important_option = config.get_main_option("my_important_option")
# ... etc.


def render_item(type_, obj, autogen_context):
    """How autogenerate writes a column's type: a domain enum's column (models.EnumText) as the VARCHAR it is, so a
    new migration neither imports the app's models nor fails for want of the enum; any other as Alembic would."""
    if type_ == "type" and obj.__class__.__name__ == "EnumText":
        return f"sa.String(length={obj.length})"
    return False


def get_metadata():
    if hasattr(target_db, 'metadatas'):
        return target_db.metadatas[None]
    return target_db.metadata


def run_migrations_offline():
    """Run migrations in 'offline' mode.

    This configures the context with just a URL
    and not an Engine, though an Engine is acceptable
    here as well.  By skipping the Engine creation
    we don't even need a DBAPI to be available.

    Calls to context.execute() here emit the given string to the
    script output.

    """
    url = config.get_main_option("sqlalchemy.url")
    context.configure(
        url=url, target_metadata=get_metadata(), literal_binds=True, render_item=render_item
    )

    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    """Run migrations in 'online' mode.

    In this scenario we need to create an Engine
    and associate a connection with the context.

    """

    # this callback is used to prevent an auto-migration from being generated
    # when there are no changes to the schema
    # reference: http://alembic.zzzcomputing.com/en/latest/cookbook.html
    def process_revision_directives(context, revision, directives):
        if getattr(config.cmd_opts, 'autogenerate', False):
            script = directives[0]
            if script.upgrade_ops.is_empty():
                directives[:] = []
                logger.info('No changes in schema detected.')

    conf_args = current_app.extensions['migrate'].configure_args
    conf_args.setdefault("render_item", render_item)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    connectable = get_engine()

    with connectable.connect() as connection:
        sqlite = connection.dialect.name == 'sqlite'
        if sqlite:
            sqlite_foreign_keys(connection, enforced=False)
        try:
            context.configure(
                connection=connection,
                target_metadata=get_metadata(),
                **conf_args
            )

            with context.begin_transaction():
                context.run_migrations()
        finally:
            if sqlite:
                connection.rollback()  # nothing, unless a migration failed
                sqlite_foreign_keys(connection, enforced=True)


def sqlite_foreign_keys(connection, enforced):
    """SQLite: foreign keys off while migrating, on again after (the app's connections always enforce them).

    A batch migration copies a table into a new one and drops the old one; with foreign keys enforced, the drop
    would delete (ON DELETE CASCADE) every row that refers to the table. The pragma does nothing inside a
    transaction, so it is set between them. Turned on again, the foreign keys are checked: a row that names one that
    is not there is reported.
    """
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if enforced else 'OFF'}")
    connection.commit()
    if enforced and (broken := connection.exec_driver_sql('PRAGMA foreign_key_check').all()):
        logger.warning('%d row(s) name a row that is not there (table, rowid, parent): %s', len(broken), broken[:10])


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
