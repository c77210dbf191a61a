# syntax=docker/dockerfile:1
# azbatch-operator image: `docker build -t azbatch-operator .` from the repository root.
#
# Stage 1 builds the operator's wheel (azbatch_operator alone: the Azure emulator and the Kubernetes
# stand-in are other distributions, emulator/ and kubemock/, outside the build context) and installs
# it with its runtime dependencies into /opt/venv. Stage 2 copies only that venv onto the same slim
# base, so no compiler, build backend or source tree reaches the final image.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/venv
COPY pyproject.toml README.md ./
COPY operator/ ./operator/
# One resolver run: the wheel built from this tree plus its pinned-by-range runtime dependencies.
RUN /opt/venv/bin/pip wheel --no-deps --wheel-dir /wheels . \
    && /opt/venv/bin/pip install /wheels/*.whl \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="azbatch-operator" \
      org.opencontainers.image.description="Kubernetes operator that keeps Azure Batch pools equal to BatchPool resources" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/azbatch-operator/azbatch-operator" \
      org.opencontainers.image.documentation="https://github.com/azbatch-operator/azbatch-operator/blob/main/docs/install.md"
# A fixed numeric non-root user, so `runAsNonRoot: true` can verify it without a passwd lookup.
RUN groupadd --system --gid 65532 azbatch \
    && useradd --system --uid 65532 --gid azbatch --no-create-home --home-dir /tmp --shell /usr/sbin/nologin azbatch
COPY --from=build /opt/venv /opt/venv
# Read-only root filesystem: nothing is written outside /tmp (an emptyDir in the chart), bytecode is
# precompiled, and logs go to stdout as JSON.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TMPDIR=/tmp
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080 9090
ENTRYPOINT ["python", "-m", "azbatch_operator"]
CMD ["run", "--log-format", "json"]
