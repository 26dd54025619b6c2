# ingest: webhook verification, the inbox, the processor worker, the ledger.
OBJS += src/ingest/signature.o src/ingest/json_scan.o src/ingest/webhook_source.o \
	src/ingest/webhook_event.o src/ingest/webhook.o src/ingest/secrets.o \
	src/ingest/json_access.o src/ingest/currency.o src/ingest/ledger_write.o src/ingest/processor.o \
	src/ingest/processor_shared.o src/ingest/processor_worker.o \
	src/ingest/normalize_stripe.o src/ingest/normalize_paddle.o \
	src/ingest/normalize_lemonsqueezy.o src/ingest/normalize_referral.o \
	src/ingest/normalize_segment.o
SQL_PARTS += src/ingest/webhook.sql src/ingest/inbox.sql src/ingest/secrets.sql \
	src/ingest/ledger.sql src/ingest/ledger_record.sql src/ingest/processor.sql
REGRESS += ingest_signatures ingest_webhook ingest_vault \
	ingest_normalize_stripe ingest_normalize_paddle ingest_normalize_lemonsqueezy \
	ingest_ledger ingest_referral_segment
ISOLATION += ingest_duplicates ingest_worker_race
