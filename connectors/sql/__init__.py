"""SQL connectors: any SQLAlchemy URL as a source; SQLite, PostgreSQL, MariaDB as target."""
