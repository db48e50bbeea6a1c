# A container for the gateway: `docker build -t qwq-gateway . && docker run -p 8787:8787 -e API_KEYS=... qwq-gateway`
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md wrangler.toml ./
COPY schemas ./schemas
COPY worker ./worker
RUN pip install --no-cache-dir -e .
ENV HOST=0.0.0.0 PORT=8787
EXPOSE 8787
USER nobody
CMD ["qwq-gateway"]
