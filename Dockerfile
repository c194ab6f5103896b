# Leyden's container image: `leyden serve` on port 9092 with its data on a volume, laid out as
# Kapacitor's image is (port 9092, config file under /etc, KAPACITOR_* overrides).
#   docker build -t leyden .
#   docker run -d -p 9092:9092 -v leyden-data:/var/lib/leyden \
#     -e KAPACITOR_DISCORD_0_URL=https://discord.com/api/webhooks/<id>/<token> leyden
#   docker exec <container> leyden list tasks
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
RUN useradd --system --user-group --home-dir /var/lib/leyden --create-home leyden
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY contrib/docker/kapacitor.conf /etc/leyden/kapacitor.conf
ENV LEYDEN_CONFIG_PATH=/etc/leyden/kapacitor.conf \
    PYTHONUNBUFFERED=1
USER leyden
WORKDIR /var/lib/leyden
VOLUME /var/lib/leyden
EXPOSE 9092
# alive when the API answers at all (a 401 with auth on still means the server is up)
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["python", "-c", "import sys, urllib.request, urllib.error\ntry:\n    urllib.request.urlopen('http://127.0.0.1:9092/kapacitor/v1/ping', timeout=4)\nexcept urllib.error.HTTPError:\n    pass\nexcept OSError:\n    sys.exit(1)"]
# SIGTERM (docker stop) stops it cleanly: queued deliveries stay in the outbox for the next start
STOPSIGNAL SIGTERM
ENTRYPOINT ["leyden"]
CMD ["serve"]
