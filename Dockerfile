# syntax=docker/dockerfile:1
# recorder: one image for every stage (`recorder run router|writer|digester|api|all`).
#
#   docker build -t recorder:0.1.0 .
#   docker run --rm -e RECORDER_BOOTSTRAP_SERVERS=kafka:9092 recorder:0.1.0 run router
#
# The builder stage builds recorder's wheel and installs it, with its dependencies
# (all published as manylinux wheels), into the virtualenv /opt/recorder. The runtime
# stage is python:3.11-slim plus that virtualenv: no compiler, no pip, no sources.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/recorder
COPY pyproject.toml README.md ./
COPY recorder ./recorder
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels . \
 && /opt/recorder/bin/pip install --no-cache-dir /wheels/recorder-*.whl \
 && /opt/recorder/bin/python -m compileall -q /opt/recorder/lib \
 && /opt/recorder/bin/python -m pip uninstall --yes pip setuptools

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="recorder" \
      org.opencontainers.image.description="CloudTrail-compatible API-event recording service" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/recorder/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 recorder \
 && useradd --system --uid 10001 --gid recorder --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin recorder
COPY --from=builder /opt/recorder /opt/recorder
USER 10001:10001
# Relative paths (e.g. the producer journal) land in /tmp, the one writable place
# when the root filesystem is read-only.
WORKDIR /tmp
# control API (RECORDER_API_PORT), /metrics /healthz /readyz (RECORDER_METRICS_PORT)
EXPOSE 8080 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('RECORDER_METRICS_PORT', '9464') + '/healthz', timeout=4)"]
ENTRYPOINT ["recorder"]
CMD ["run", "all"]
