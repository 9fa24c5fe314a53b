# numbersearch: the HTTP API (default command) and the Voila dashboard, from one image.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY . .
RUN pip install '.[all]'

# Run unprivileged; /data is the working directory, so a SQLite DATABASE_URL or a .env would live there.
RUN useradd --create-home --uid 10001 numbersearch && mkdir /data && chown numbersearch /data
USER numbersearch
WORKDIR /data

EXPOSE 8000 8866
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"
CMD ["numbersearch", "serve", "--host", "0.0.0.0", "--port", "8000"]
