# One image for every process: `opswatch api` (the default), `opswatch worker`,
# `opswatch scheduler`, `opswatch db upgrade` and the administrative commands.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY opswatch/ opswatch/
COPY schema/ schema/
COPY resolvers/ resolvers/
COPY tasks/ tasks/
RUN pip install -c constraints.txt . && rm -rf /src

# The home directory is writable, so the embedded shape (`opswatch serve`) can keep
# its ./.opswatch data directory there.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin opswatch
USER opswatch
WORKDIR /home/opswatch

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["opswatch"]
CMD ["api", "--host", "0.0.0.0"]
