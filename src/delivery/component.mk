# delivery: destinations, outbox, request builders, HTTP engine, worker.
OBJS += src/delivery/jsonw.o src/delivery/payload_format.o src/delivery/payload.o \
	src/delivery/build_google.o src/delivery/build_meta.o src/delivery/build_tiktok.o \
	src/delivery/build_linkedin.o src/delivery/build_webhook.o
SQL_PARTS += src/delivery/outbox.sql src/delivery/routing_facts.sql src/delivery/routing.sql src/delivery/admin.sql
REGRESS += delivery_payloads delivery_routing delivery_admin

# Credentials need the vault (src/auth); they join the build once it is there.
ifneq ($(wildcard src/auth/vault.h),)
OBJS += src/delivery/credential.o
SQL_PARTS += src/delivery/credentials.sql
REGRESS += delivery_credentials
endif
