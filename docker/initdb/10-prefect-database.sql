-- Runs once, when the postgres volume is first initialised: the Prefect server's own database
-- next to veille's archive (POSTGRES_DB=veille).
CREATE DATABASE prefect;
