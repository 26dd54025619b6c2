-- last: functions are executable by PUBLIC by default; take that back, so
-- that only the grants each component made to the attribution_* roles hold.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA attribution FROM PUBLIC;
