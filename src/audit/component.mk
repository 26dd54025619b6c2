# audit: the tracking audit, reconciliation against the platforms, retention.
SQL_PARTS += src/audit/settings.sql src/audit/checks.sql src/audit/delivery_check.sql \
	src/audit/audit.sql
REGRESS += audit_run
