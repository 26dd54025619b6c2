# core: shared helpers (digests) and the schema's roles.
OBJS += src/core/digest.o src/core/progress.o
SQL_PARTS += src/core/core.sql src/core/progress.sql
REGRESS += setup
ISOLATION += progress_view
