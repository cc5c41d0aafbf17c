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
RUN pip install . && useradd --create-home --uid 10001 mocksrv

USER mocksrv
EXPOSE 4599
# mount your own scenarios here: -v "$PWD/scenarios:/scenarios:ro"
VOLUME ["/scenarios"]

HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:4599/__admin/health', timeout=2).status == 200 else 1)"]

ENTRYPOINT ["mocksrv"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4599"]
