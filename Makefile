# Shortcuts for the Docker Compose deployment (the seed's `make compose-up`) and local work.
# Uses `docker compose` (v2) when available, else `docker-compose` (v1).

COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
SERVICE ?=

.PHONY: help compose-up compose-down logs migrate migrate-local test config ps env-check

help:
	@echo "make compose-up     build and start api, worker, db, redis (needs .env)"
	@echo "make compose-down   stop and remove the containers (volumes are kept)"
	@echo "make logs           follow the logs (SERVICE=api|worker|db|redis for one)"
	@echo "make migrate        apply database migrations inside the api container"
	@echo "make migrate-local  apply migrations from this checkout (npm run migrate)"
	@echo "make test           run the test suite (npm test)"
	@echo "make config         validate docker-compose.yml with .env"

env-check:
	@test -f .env || { echo "No .env: copy .env.example to .env and set the passwords and secrets first." >&2; exit 1; }

compose-up: env-check
	$(COMPOSE) up -d --build

compose-down:
	$(COMPOSE) down

logs:
	$(COMPOSE) logs -f --tail=200 $(SERVICE)

ps:
	$(COMPOSE) ps

migrate: env-check
	$(COMPOSE) run --rm api node --import tsx src/db/migrate-cli.ts

migrate-local:
	npm run migrate

test:
	npm test

config: env-check
	$(COMPOSE) config -q && echo "docker-compose.yml is valid"
