"""The app's database: what sessions share on purpose (the class board; later, workspaces).

`db.database()` opens the server's database once per process (SQLite in the data folder, or
PostgreSQL with CNNLAB_DATABASE_URL) and brings its schema up to date with Alembic; `schema`
holds the ORM tables, `migrations/` the Alembic scripts that build them.
"""
