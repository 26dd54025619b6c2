-- audit/settings: the thresholds of the tracking audit and the retention
-- periods of purge(), in one row an admin updates.

CREATE TABLE attribution.audit_settings (
    singleton                   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    failure_threshold           numeric NOT NULL DEFAULT 0.2
        CHECK (failure_threshold >= 0 AND failure_threshold <= 1),
    queue_grace                 interval NOT NULL DEFAULT '1 hour' CHECK (queue_grace >= '0'),
    delivery_log_retention      interval NOT NULL DEFAULT '180 days' CHECK (delivery_log_retention > '0'),
    inbox_body_retention        interval NOT NULL DEFAULT '30 days' CHECK (inbox_body_retention > '0'),
    resolved_alert_retention    interval NOT NULL DEFAULT '90 days' CHECK (resolved_alert_retention > '0'),
    audit_run_retention         interval NOT NULL DEFAULT '400 days' CHECK (audit_run_retention > '0'),
    purge_batch_size            int NOT NULL DEFAULT 5000 CHECK (purge_batch_size BETWEEN 1 AND 1000000),
    purge_lock_timeout          interval NOT NULL DEFAULT '2 seconds'
        CHECK (purge_lock_timeout > '0' AND purge_lock_timeout <= '1 minute')
);
INSERT INTO attribution.audit_settings DEFAULT VALUES;
SELECT pg_catalog.pg_extension_config_dump('attribution.audit_settings', '');
COMMENT ON TABLE attribution.audit_settings IS 'Tracking audit threshold and retention periods of purge() (one row)';
COMMENT ON COLUMN attribution.audit_settings.failure_threshold IS 'Share of sampled conversions with a failed check above which run_audit() raises an alert';
COMMENT ON COLUMN attribution.audit_settings.queue_grace IS 'How long an outbox row may still be queued before the delivery check counts it as not delivered';
COMMENT ON COLUMN attribution.audit_settings.delivery_log_retention IS 'purge(): delivery_log partitions that end before now() minus this are dropped';
COMMENT ON COLUMN attribution.audit_settings.inbox_body_retention IS 'purge(): raw bodies of processed (done or skipped) inbox rows older than this are emptied; the digest stays';
COMMENT ON COLUMN attribution.audit_settings.resolved_alert_retention IS 'purge(): alerts resolved longer ago than this are deleted';
COMMENT ON COLUMN attribution.audit_settings.audit_run_retention IS 'purge(): audit runs (and their findings) older than this are deleted';
COMMENT ON COLUMN attribution.audit_settings.purge_batch_size IS 'purge(): rows per batch of each delete or update';
COMMENT ON COLUMN attribution.audit_settings.purge_lock_timeout IS 'purge(): longest wait for the lock a partition drop needs; a drop that would wait longer is left for the next run';

GRANT SELECT ON attribution.audit_settings TO attribution_analyst;
GRANT SELECT, UPDATE ON attribution.audit_settings TO attribution_admin;
