# syntax=docker/dockerfile:1
# The Tunehub image: a non-editable install of the project on python:3.11-slim.
#
#   docker build -t tunehub-server .                              # the REST server (default)
#   docker build --build-arg EXTRAS=workers -t tunehub-workers .  # Ray head/worker nodes
#
# tests/integration/test_container_files.py and test_packaging.py run what this file runs
# (the build context, the wheel, the CMD and the HEALTHCHECK) without a Docker engine.
FROM python:3.11-slim

# Which optional dependencies of pyproject.toml to install: "server" or "workers".
ARG EXTRAS=server
# torch goes first, pinned and from the CPU index: an unpinned torch pulls CUDA builds
# several GB large. Point this at a CUDA index (e.g. .../whl/cu128) for GPU trial code.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN pip install --index-url "${TORCH_INDEX_URL}" torch==2.13.0

# Only what the build needs (.dockerignore keeps everything else out of the context).
WORKDIR /src
COPY pyproject.toml README.md ./
COPY sdk/ sdk/
COPY server/ server/
COPY workers/ workers/
COPY migrations/ migrations/
RUN pip install ".[${EXTRAS}]" \
    && cd / \
    && rm -rf /src

RUN useradd --create-home --uid 10001 --user-group tunehub \
    && mkdir -p /data \
    && chown tunehub:tunehub /data
USER tunehub
WORKDIR /data
VOLUME ["/data"]

# The embedded database lives in the volume; docker-compose.yml points it at PostgreSQL.
ENV TUNEHUB_DATABASE_URL=sqlite:////data/tunehub.db

EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=4).status == 200 else 1)"]

# Keys from the first request (--auth). Give the first admin key as a secret file
# (-e TUNEHUB_ADMIN_KEY_FILE=/run/secrets/...) or in TUNEHUB_ADMIN_KEY; make one with
# `tunehub keys generate`. Host names other than loopback go in TUNEHUB_ALLOWED_HOSTS.
CMD ["sh", "-c", "tunehub db upgrade && exec tunehub server --host 0.0.0.0 --port 8000 --auth"]
