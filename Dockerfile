# mocksrv: offline sandbox for Amazon partner APIs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY mocksrv ./mocksrv
COPY scenarios ./scenarios
# the same install as the README's set-up command (non-editable inside the image)
RUN pip install . && useradd --create-home --uid 10001 mocksrv \
    && mkdir -p /state /ca && chown mocksrv:mocksrv /state /ca && chmod 0700 /state /ca

USER mocksrv
EXPOSE 4599 4443
# your own scenarios: -v "$PWD/scenarios:/scenarios:ro"; durable state (--state /state/mocksrv.db)
# and the local CA of the HTTPS listener (--ca-dir /ca) on volumes: see docker-compose.yml
VOLUME ["/scenarios", "/state", "/ca"]

# The image listens on 0.0.0.0, so the admin API needs a bearer token: pass your own with
#   docker run -e MOCKSRV_ADMIN_TOKEN=... (clients send "Authorization: Bearer $MOCKSRV_ADMIN_TOKEN")
# or read the one generated at start-up from the log ("Admin API token (generated; ...): ...").
# The health check asks GET /__admin/health (open without the token) on the port and address the
# server was given (--port, MOCKSRV_PORT or 4599; read from its command line and environment).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-m", "mocksrv.healthcheck"]

ENTRYPOINT ["mocksrv"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4599"]
