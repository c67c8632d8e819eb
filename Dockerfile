# The Leuchtturm API for compose.yaml (uses MongoDB and Meilisearch; no embedded FerretDB).
FROM python:3.11-slim AS build
ENV UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv UV_COMPILE_BYTECODE=1
RUN pip install --no-cache-dir uv==0.13.8
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY api ./api
COPY catalogue ./catalogue
COPY importers ./importers
COPY data ./data
RUN uv sync --frozen --no-dev

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 leuchtturm
WORKDIR /app
COPY --from=build /app /app
RUN mkdir -p /app/var && chown leuchtturm /app/var
USER leuchtturm
ENV PATH=/app/.venv/bin:$PATH LEUCHTTURM_HOST=0.0.0.0 LEUCHTTURM_DATA_DIR=/app/var
EXPOSE 8000
CMD ["leuchtturm", "serve"]
