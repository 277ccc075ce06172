"""The archive in PostgreSQL: schema, engine, writes, reads and exports."""
