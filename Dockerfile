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
# `kasane serve` applies the migrations, then serves.
CMD ["kasane", "serve"]
