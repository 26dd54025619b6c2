-- Demo setup: the extension in the demo database.
CREATE EXTENSION pg_attribution;
