# One image for every Activator service: `docker run IMAGE gateway`, `... push-worker`, `... migrate`.
# Dependencies come from uv.lock (`uv sync --frozen`), so the image runs what the tests ran.

FROM python:3.11-slim AS build
# The uv the Makefile pins (UV_VERSION there); tests/unit/deploy/test_compose.py keeps them equal.
ARG UV_VERSION=0.13.8
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_PROJECT_ENVIRONMENT=/opt/activator/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /opt/activator/app
# Dependencies first: this layer is reused until pyproject.toml or uv.lock change.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY services ./services
COPY shared ./shared
RUN uv sync --frozen --no-dev --no-editable

FROM python:3.11-slim
RUN groupadd --system --gid 10001 activator \
    && useradd --system --uid 10001 --gid activator --no-create-home --shell /usr/sbin/nologin activator
COPY --from=build /opt/activator/venv /opt/activator/venv
ENV PATH=/opt/activator/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ACTIVATOR_LOG_FORMAT=json \
    ACTIVATOR_GATEWAY_HOST=0.0.0.0
WORKDIR /opt/activator
# Numeric, so Kubernetes' runAsNonRoot can verify it without resolving names.
USER 10001:10001
EXPOSE 8080 9100
ENTRYPOINT ["activator"]
CMD ["--help"]
