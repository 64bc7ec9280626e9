# Mine Action Records: `docker compose up` runs it with PostGIS (see compose.yaml).
#   docker build -t mar .
#   docker run -e DATABASE_URL=postgresql://... -p 8000:8000 mar

# --- build: a virtual environment with the pinned runtime dependencies and the project ---
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# Dependencies first (exact versions and hashes from requirements.prod.lock), so that a change
# to the code does not re-download them.
COPY requirements.prod.lock requirements.build.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.prod.lock -r requirements.build.lock

# The project itself; its dependencies are all in the venv already.
COPY pyproject.toml README.md ./
COPY api ./api
COPY db ./db
# Built with the pinned setuptools already in the venv: nothing unpinned is downloaded.
RUN pip install --no-cache-dir --no-deps --no-build-isolation . \
 && python -m compileall -q /opt/venv/lib

# --- runtime: the venv, the migrations, an unprivileged user ---
FROM python:3.11-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MAR_HOST=0.0.0.0 \
    MAR_PORT=8000

RUN groupadd --gid 10001 mar \
 && useradd --uid 10001 --gid mar --no-log-init --no-create-home --home-dir /app --shell /usr/sbin/nologin mar

COPY --from=build /opt/venv /opt/venv

# `mar migrate` finds alembic.ini (and alembic/ beside it) in the working directory.
WORKDIR /app
COPY alembic.ini ./
COPY alembic ./alembic

USER 10001:10001
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('MAR_PORT', '8000'), timeout=4)"]

CMD ["mar", "serve"]
