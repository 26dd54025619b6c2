# delivery: destinations, outbox, request builders, HTTP engine, worker.
SQL_PARTS += src/delivery/outbox.sql
