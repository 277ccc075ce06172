# veille: the pipeline and its `veille` command. `docker compose up` runs it as `veille serve`.
FROM python:3.11-slim

# The Prefect client, pinned to the server image's version (docker-compose.yml passes it).
ARG PREFECT_VERSION=3.9.1

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md alembic.ini prefect.yaml ./
COPY monitors ./monitors
COPY flows ./flows
COPY migrations ./migrations
COPY seeds ./seeds
# Editable: veille finds seeds/ and migrations/ next to its code, in /app. The slim image has no C
# compiler, so monitors/_ngrams.c and monitors/_scan.c are not built: language detection takes its
# numpy path (same results, 0.2-0.3 ms more per article in bench/stages.py) and the topic
# matcher its Python loop (same results, 0.1-0.4 ms more per seed page: bench/README.md).
RUN pip install -e ".[parquet]" "prefect==${PREFECT_VERSION}" \
    && useradd --create-home --uid 1000 veille
USER veille

# Without VEILLE_DATABASE_URL veille would start an embedded PostgreSQL; in compose it is set.
ENV VEILLE_DATA_DIR=/home/veille/data
CMD ["veille", "serve"]
