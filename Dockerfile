# Kasane: slim Python, non-root, migrates then serves (SQLite file on the /data volume).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    KASANE_DATABASE_URL=sqlite:////data/kasane.db \
    KASANE_HOST=0.0.0.0 \
    KASANE_PORT=8000

WORKDIR /app
RUN useradd --create-home --uid 10001 kasane && mkdir /data && chown kasane /data

COPY pyproject.toml README.md alembic.ini ./
COPY service ./service
COPY migrations ./migrations
COPY workflows ./workflows
# Editable install: the workflow definitions and migrations are read from /app.
RUN pip install -e .

USER kasane
VOLUME ["/data"]
EXPOSE 8000
# Readiness: the database is reachable, migrated and writable (`/health` only says the process
# is up). No curl in the slim image: Python's urllib fails on the 503.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=3)"]
# `kasane serve` applies the migrations, then serves.
CMD ["kasane", "serve"]
