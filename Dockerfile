# toolcontrol API and worker image.
#   docker build -t toolcontrol .
# The same image runs the API (default CMD) and the worker (see docker-compose.yml).

ARG NODE_IMAGE=node:20-bookworm-slim

# --- dependencies: node_modules, installed exactly as CI installs them (.ci/run) ----------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node's install script only fetches optional GPU binaries; the CPU build ships
# in the package. `npm ci` is not used: it fails against this project's registry mirror.
# Dev dependencies stay (vitest, drizzle-kit): `npm test` and `npm run migrate:generate`
# work inside the image, and the install is the one CI exercises.
ENV ONNXRUNTIME_NODE_INSTALL=skip \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
COPY package.json package-lock.json ./
# The web app is an npm workspace: `npm install` builds it from source (prepare) into web/build.
COPY web ./web
RUN npm install && npm cache clean --force

# --- runtime --------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data \
    MEDIA_DIR=/data/media \
    MODEL_PATH=/app/models/toolcontrol-yolo.onnx \
    # glibc malloc as scripts/runtime-env.sh sets it for npm start / npm run worker: fewer
    # arenas (the inference and sharp threads otherwise inflate RSS), and a photo's few-MB
    # buffers reused from the heap instead of mapped and unmapped for every photo.
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=33554432 \
    MALLOC_TRIM_THRESHOLD_=134217728
WORKDIR /app

# Data (media, or the embedded database when no PostgreSQL is configured) belongs to the
# unprivileged `node` user (uid 1000) that ships with the official image.
RUN mkdir -p /data/media && chown -R node:node /data

COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --chown=root:root package.json package-lock.json tsconfig.json drizzle.config.ts ./
# Source runs through tsx; the drizzle-kit migrations live in src/db/migrations.
COPY --chown=root:root src ./src
# The Cyrillic font for annotated images and the default detector.
COPY --chown=root:root assets/fonts ./assets/fonts
COPY --chown=root:root models ./models
# The tool-room web app, served at / by the API (WEB_DIR).
COPY --from=deps --chown=root:root /app/web/build ./web/build

USER node
VOLUME ["/data"]
EXPOSE 8000

# 200 while the database answers (also when Redis or the model is degraded), 503 otherwise.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/base/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Exec form, node directly (not npm): SIGTERM reaches node, and main.ts closes gracefully
# (in-flight requests finish, connections close). compose adds an init process (`init: true`).
CMD ["node", "--import", "tsx", "src/main.ts"]
