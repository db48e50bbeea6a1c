# The gateway in a container:
#   docker build -t qwq-gateway .
#   docker run -p 8787:8787 -e API_KEYS=key1 qwq-gateway
# Settings come from the environment (`-e`, `--env-file`). The image holds no wrangler.toml: what is not
# set runs on the built-in defaults, which equal wrangler.toml's [vars] (mount one at /app/wrangler.toml
# to change them). BASE_IMAGE: any image with Python 3.11+ and its venv module, e.g. one built locally
# where no registry is reachable.
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: the dependencies alone, in the venv the final image keeps. This layer depends on nothing but
# pyproject.toml, so a rebuild after a source change reuses it instead of downloading them again.
FROM ${BASE_IMAGE} AS deps
COPY pyproject.toml /src/pyproject.toml
RUN python3 -c "import tomllib; print(*tomllib.load(open('/src/pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" \
        >/src/requirements.txt \
    && python3 -m venv /opt/qwq-gateway \
    && /opt/qwq-gateway/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        -r /src/requirements.txt

# Stage 2: the wheel, built from the source; the vendored schemas go inside it as worker.schemas.
FROM ${BASE_IMAGE} AS build
WORKDIR /src
COPY . .
RUN python3 -m venv /opt/build \
    && /opt/build/bin/python -m pip wheel --no-cache-dir --disable-pip-version-check --no-deps \
        --wheel-dir /wheels .

# Stage 3: the dependencies' venv plus the wheel installed alone into it (no index needed); no source
# tree, no build tools. The user exists before anything is copied, so nothing in the image is its own.
FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --no-create-home --shell /usr/sbin/nologin gateway \
    && mkdir /data && chown 10001:10001 /data
COPY --from=deps /opt/qwq-gateway /opt/qwq-gateway
COPY --from=build /wheels /wheels
RUN /opt/qwq-gateway/bin/python -m pip install --no-cache-dir --disable-pip-version-check --no-deps \
        --no-index /wheels/*.whl \
    && rm -rf /wheels
# The default state store (managed keys, usage: docs/keys.md) is a SQLite file in DATA_DIR, a volume
# the gateway's user may write.
ENV PATH=/opt/qwq-gateway/bin:$PATH HOST=0.0.0.0 PORT=8787 PYTHONUNBUFFERED=1 DATA_DIR=/data
VOLUME /data
# An empty working directory owned by root: the gateway reads ./wrangler.toml only if one is put here.
WORKDIR /app
USER 10001:10001
EXPOSE 8787
# /healthz answers 200 while the process serves (whether the upstreams are ready is /readyz). Slim images
# have no curl: python's urllib makes the request, and fails the check on an error or a non-2xx answer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8787') + '/healthz', timeout=4)"]
# Exec form: qwq-gateway is PID 1 and gets `docker stop`'s SIGTERM itself (a graceful shutdown of 10 s).
CMD ["qwq-gateway"]
