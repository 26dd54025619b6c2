# libFuzzer harnesses for the parsers that take attacker-controlled bytes.
# They compile only the pure-C files (no server headers), with clang:
#     make fuzz                       build test/fuzz/bin/<target>
#     make fuzz-run FUZZ_TIME=10      run each target for FUZZ_TIME seconds
#     make fuzz-run FUZZ_TIME=600     the long run of the README's reliability section
# Seeds live in test/fuzz/seeds/<target>/; the working corpus and any crash
# reproducers are written under test/fuzz/bin/.

FUZZ_CC ?= clang
FUZZ_TIME ?= 10
FUZZ_CFLAGS ?= -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_TARGETS = fuzz_timestamped fuzz_body_hmac fuzz_json_depth fuzz_rules fuzz_loopback
FUZZ_SOURCES = src/ingest/signature.c src/ingest/json_scan.c src/models/rules.c src/models/transforms.c \
	src/delivery/loopback.c

.PHONY: fuzz fuzz-run
fuzz: $(addprefix test/fuzz/bin/,$(FUZZ_TARGETS))

test/fuzz/bin/%: test/fuzz/%.c $(FUZZ_SOURCES) src/ingest/signature.h src/ingest/json_scan.h \
		src/delivery/loopback.h test/fuzz/sig_build.h
	@mkdir -p test/fuzz/bin
	$(FUZZ_CC) $(FUZZ_CFLAGS) -I$(srcdir)/src -o $@ $< $(FUZZ_SOURCES) -lcrypto

fuzz-run: fuzz
	@set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p test/fuzz/bin/corpus/$$t; \
		if [ -d test/fuzz/seeds/$$t ]; then cp test/fuzz/seeds/$$t/* test/fuzz/bin/corpus/$$t/; fi; \
		echo "=== $$t ($(FUZZ_TIME) s)"; \
		if ! ( cd test/fuzz/bin && ./$$t -max_total_time=$(FUZZ_TIME) -max_len=4096 \
				-rss_limit_mb=1024 -print_final_stats=1 corpus/$$t > $$t.log 2>&1 ); then \
			tail -n 60 test/fuzz/bin/$$t.log; echo "=== $$t FAILED"; exit 1; \
		fi; \
		grep -E '^(Done|stat::number_of_executed_units)' test/fuzz/bin/$$t.log || true; \
	done
