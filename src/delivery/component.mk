# delivery: destinations, outbox, request builders, HTTP engine, worker.
OBJS += src/delivery/breaker.o src/delivery/ratelimit.o src/delivery/http_engine.o \
	src/delivery/batch.o src/delivery/response.o src/delivery/delivery_store.o \
	src/delivery/delivery_launcher.o src/delivery/delivery_worker.o
SQL_PARTS += src/delivery/outbox.sql src/delivery/delivery_worker.sql
REGRESS += delivery_worker
ISOLATION += delivery_claim
