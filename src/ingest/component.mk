# ingest: webhook verification, the inbox, the processor worker, the ledger.
SQL_PARTS += src/ingest/ledger.sql
