# ingest: webhook verification, the inbox, the processor worker, the ledger.
OBJS += src/ingest/signature.o src/ingest/json_scan.o src/ingest/webhook_source.o \
	src/ingest/webhook_event.o src/ingest/webhook.o src/ingest/secrets.o
SQL_PARTS += src/ingest/webhook.sql src/ingest/inbox.sql src/ingest/secrets.sql \
	src/ingest/ledger.sql
REGRESS += ingest_signatures ingest_webhook ingest_vault
ISOLATION += ingest_duplicates
