# delivery: destinations, outbox, request builders, routing, credentials.
OBJS += src/delivery/jsonw.o src/delivery/payload_format.o src/delivery/payload.o \
	src/delivery/credential.o
# One module per platform (src/delivery/platforms/platform.h), and their registry.
OBJS += src/delivery/platforms/registry.o src/delivery/platforms/google_ads.o \
	src/delivery/platforms/google_dm.o src/delivery/platforms/meta.o \
	src/delivery/platforms/tiktok.o src/delivery/platforms/linkedin.o \
	src/delivery/platforms/webhook.o
SQL_PARTS += src/delivery/platforms/platforms.sql src/delivery/outbox.sql \
	src/delivery/routing_facts.sql src/delivery/routing.sql \
	src/delivery/admin.sql src/delivery/credentials.sql
REGRESS += delivery_platforms delivery_payloads delivery_routing delivery_admin delivery_credentials

# The delivery worker: launcher, claim and record, HTTP engine, outcomes.
OBJS += src/delivery/breaker.o src/delivery/ratelimit.o src/delivery/http_engine.o \
	src/delivery/request_kit.o src/delivery/judge.o src/delivery/batch.o src/delivery/response.o src/delivery/delivery_store.o \
	src/delivery/delivery_launcher.o src/delivery/delivery_worker.o
SQL_PARTS += src/delivery/delivery_worker.sql
REGRESS += delivery_worker
ISOLATION += delivery_claim
