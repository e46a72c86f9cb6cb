# syntax=docker/dockerfile:1
# One image for every Helios role. The command picks the role (see deploy/entrypoint.sh):
#   docker build -t helios .
#   docker run helios manage.py runkafka bidder      # or: docker run helios bidder
#   docker run helios web                            # daphne on 0.0.0.0:8000
# docker-compose.yml and deploy/k8s/ run it this way.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- builder: wheels for the pinned requirements, installed into a virtualenv ----------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY requirements-runtime.lock .
# requirements-runtime.lock: requirements.txt with every transitive package, pinned with hashes (`make
# lock`). Every pin ships binary wheels for CPython 3.11 on manylinux amd64 and arm64, so the builder
# needs no compiler; a pin without one makes this step fail loudly rather than build from source.
RUN pip wheel --wheel-dir /wheels --only-binary=:all: --require-hashes -r requirements-runtime.lock \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-index --find-links /wheels --require-hashes -r requirements-runtime.lock

# ---- runtime: slim Python, the virtualenv, the code; no build tools, no wheels ---------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=helios_site.settings \
    HELIOS_METRICS_HOST=0.0.0.0 \
    HELIOS_HANDLER_HOST=0.0.0.0 \
    HELIOS_PROFILES_HOST=0.0.0.0
# The roles run as this unprivileged user (SPEC §11); the code stays owned by root, read-only to it.
RUN groupadd --system --gid 10001 helios \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin helios
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY . .
# Static files are collected at build time (settings' defaults suffice: no database, no secret);
# byte-code is compiled now because the root filesystem may be read-only at run time.
RUN python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q /app \
 && chmod 0755 /app/deploy/entrypoint.sh
USER 10001:10001
# web 8000, handler 8080 (+ metrics 2112), profiles gRPC 50051 (+ 9003), bidder 8001, auction 9001,
# outcomes 9002. No HEALTHCHECK here: the port depends on the role, so docker-compose.yml and the
# Kubernetes manifests define one per role.
EXPOSE 8000 8080 2112 50051 9003 8001 9001 9002
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
