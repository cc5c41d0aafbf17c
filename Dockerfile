# mocksrv: offline sandbox for Amazon partner APIs.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY mocksrv ./mocksrv
COPY scenarios ./scenarios
# the same install as the README's set-up command (non-editable inside the image)
RUN pip install . && useradd --create-home --uid 10001 mocksrv

USER mocksrv
EXPOSE 4599
# mount your own scenarios here: -v "$PWD/scenarios:/scenarios:ro"
VOLUME ["/scenarios"]

# The image listens on 0.0.0.0, so the admin API needs a bearer token: pass your own with
#   docker run -e MOCKSRV_ADMIN_TOKEN=... (clients send "Authorization: Bearer $MOCKSRV_ADMIN_TOKEN")
# or read the one generated at start-up from the log ("Admin API token (generated; ...): ...").
ENV MOCKSRV_ADMIN_TOKEN=""
# healthy when the admin API answers: 200 with the token, or 401 when the token was generated
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os,sys,urllib.request as u,urllib.error as e\nt=os.environ.get('MOCKSRV_ADMIN_TOKEN')\nr=u.Request('http://127.0.0.1:4599/__admin/health',headers={'Authorization':'Bearer '+t} if t else {})\ntry: sys.exit(0 if u.urlopen(r,timeout=2).status==200 else 1)\nexcept e.HTTPError as x: sys.exit(0 if x.code==401 and not t else 1)"]

ENTRYPOINT ["mocksrv"]
CMD ["serve", "--host", "0.0.0.0", "--port", "4599"]
