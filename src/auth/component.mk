# auth: the vault that keeps secrets and tokens encrypted at rest.
OBJS += src/auth/vault.o
SQL_PARTS += src/auth/vault.sql
