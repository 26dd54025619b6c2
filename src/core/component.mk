# core: shared helpers (digests) and the schema's roles.
OBJS += src/core/digest.o
SQL_PARTS += src/core/core.sql
REGRESS += setup
