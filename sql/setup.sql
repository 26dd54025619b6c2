-- Create the extension once for the whole regression run.
CREATE EXTENSION pg_attribution;
SELECT extversion FROM pg_extension WHERE extname = 'pg_attribution';
