# One image for the four services; docker-compose.yml picks the entry point per service.
FROM node:24-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY packages ./packages
COPY services ./services
RUN npm ci --no-audit --no-fund && npx tsc -b && npm prune --omit=dev && mkdir -p .stack && chown node .stack
ENV NODE_ENV=production HOST=0.0.0.0 KAFKAJS_NO_PARTITIONER_WARNING=1
USER node
