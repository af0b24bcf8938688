# Pictor build. `make` builds ./pictor; `make test` runs every suite;
# `make run` installs dependencies, builds and serves on 127.0.0.1:8080
# (LISTEN=, DATA= and ARGS= change that).

CC      ?= cc
PKGS    := vips libmicrohttpd lmdb libpq jansson libcrypto libcurl libsystemd
CSTD    := -std=c11 -D_GNU_SOURCE
WARN    := -Wall -Wextra -Werror -Wno-unused-parameter
OPT     ?= -O2 -g
SAN     ?=
CFLAGS_ALL  = $(CSTD) $(WARN) $(OPT) $(SAN) -Isrc $(shell pkg-config --cflags $(PKGS) 2>/dev/null) -pthread $(CFLAGS)
LDLIBS_ALL  = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -ldnnl -lm -pthread $(LDLIBS)

BUILD   ?= build
BIN     ?= pictor
LIB_SRC := $(shell find src -name '*.c' ! -path src/main.c | sort)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

.DEFAULT_GOAL := all
FORCE:
.PHONY: FORCE all test unit e2e s3 s3pg browser pg compat run asan fuzz models deps corpus bench clean format

all: $(BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

# The admin console's files, every file directly under src/console/assets/,
# embedded with a gzip -9n copy (src/console/assets.h) by a generator built
# with the same compiler. The list is rewritten only when it changes, so a
# removed file regenerates the table too.
CONSOLE_ASSETS := $(shell find src/console/assets -maxdepth 1 -type f 2>/dev/null | LC_ALL=C sort)
LIB_OBJ += $(BUILD)/gen/console_assets.o

$(BUILD)/gen/console_assets.list: FORCE
	@mkdir -p $(dir $@)
	@echo '$(CONSOLE_ASSETS)' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/gen/embed-assets: scripts/embed-assets.c
	@mkdir -p $(dir $@)
	@$(CC) -std=c11 -D_GNU_SOURCE -O1 -o $@ $<

$(BUILD)/gen/console_assets.c: $(BUILD)/gen/embed-assets $(BUILD)/gen/console_assets.list $(CONSOLE_ASSETS)
	@echo "  GEN $@"
	@$(BUILD)/gen/embed-assets $@ $(CONSOLE_ASSETS)

$(BUILD)/gen/console_assets.o: $(BUILD)/gen/console_assets.c
	@$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libpictor.a: $(LIB_OBJ)
	@rm -f $@
	@ar rcs $@ $^

# Build identity for `pictor version` and /metrics: rewritten only when it
# changes, so an unchanged tree does not relink.
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define PX_GIT_REV "%s"\n#define PX_LIBSYSTEMD_VERSION "%s"\n' \
		"$$(git describe --always --dirty 2>/dev/null || echo unknown)" \
		"$$(pkg-config --modversion libsystemd 2>/dev/null)" > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@; rm -f $@.tmp

$(BUILD)/src/main.o: $(BUILD)/gen/version.h
$(BUILD)/src/main.o: CFLAGS += -I$(BUILD)/gen

$(BIN): $(BUILD)/src/main.o $(BUILD)/libpictor.a
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libpictor.a tests/unit/t.h tests/unit/t_file.h
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(BUILD)/libpictor.a $(LDLIBS_ALL)

deps:
	@bash scripts/install-deps.sh

models:
	@bash scripts/fetch-models.sh

corpus:
	@bash scripts/fetch-corpus.sh

unit: $(UNIT_BIN)
	@bash scripts/run-unit.sh $(UNIT_BIN)

e2e: $(BIN)
	@bash scripts/run-e2e.sh

# Pages in Debian's chromium driven by Playwright (tests/browser/);
# `make browser SPEC=responsive` runs the specs whose path matches.
browser: $(BIN)
	@bash scripts/run-browser.sh $(SPEC)

# Pictor on its external stores, throwaway servers on loopback
# (scripts/run-stores.sh): `make s3pg` starts a Ceph RGW and a PostgreSQL 15
# once and runs the S3 and PostgreSQL unit cases, tests/s3, tests/pg and
# the whole e2e suite with every daemon on S3 + PostgreSQL. `make s3` and
# `make pg` run one store each with a few e2e files (E2E="api cache"
# chooses others, E2E=all every file).
STORE_BINS := $(BIN) $(BUILD)/tests/test_blob_s3 $(BUILD)/tests/test_kv $(BUILD)/tests/test_kv_pg
s3pg s3 pg: $(STORE_BINS)
	@BUILD=$(BUILD) PICTOR_BIN=$(BIN) bash scripts/run-stores.sh $@

# Transforms compared with sharp (an independent libvips pipeline).
compat: $(BUILD)/libpictor.a
	@node --test tests/compat/

# `make test`: the two builds with -j2, then suites side by side in lanes
# (scripts/run-lanes.sh: each lane's output is printed when all are done,
# with its wall and CPU time): the unit binaries beside the clang build,
# then the e2e suite on the embedded stores, the browser and compat suites
# beside `make s3pg` (the whole e2e suite again on S3 + PostgreSQL), then
# the fuzz smoke run. Lanes call the scripts, not make, so two makes never
# write one file. docs/TESTING.md has the times.
LANE_ENV = BUILD=$(BUILD) PICTOR_BIN=$(BIN)
test: deps
	@$(MAKE) --no-print-directory -j2 all $(UNIT_BIN)
	@$(MAKE) --no-print-directory models corpus
	@bash scripts/run-lanes.sh \
		unit 'bash scripts/run-unit.sh $(UNIT_BIN)' \
		clang '$(MAKE) --no-print-directory CC=clang BUILD=build-clang BIN=build-clang/pictor build-clang/pictor'
	@$(LANE_ENV) bash scripts/run-lanes.sh \
		e2e 'rc=0; bash scripts/run-e2e.sh || rc=1; bash scripts/run-browser.sh || rc=1; node --test tests/compat/ || rc=1; exit $$rc' \
		s3pg 'bash scripts/run-stores.sh s3pg'
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-5} $(MAKE) --no-print-directory fuzz

# The same suites under AddressSanitizer and UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/pictor OPT="-O1 -g -fno-omit-frame-pointer" \
		SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" \
		build-asan/pictor $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)
	@$(MAKE) --no-print-directory models corpus
	@ASAN_OPTIONS=detect_leaks=0 bash scripts/run-unit.sh $(UNIT_SRC:tests/unit/%.c=build-asan/tests/%)
	@ASAN_OPTIONS=detect_leaks=0 PICTOR_BIN=build-asan/pictor bash scripts/run-e2e.sh

fuzz:
	@bash scripts/run-fuzz.sh $(FUZZ_SRC)

# `make run LISTEN=HOST:PORT DATA=DIR ARGS="--moderation off"`; unset ones
# come from PICTOR_* variables or the defaults (127.0.0.1:8080, ./var).
run: deps
	@$(MAKE) --no-print-directory all models
	./$(BIN) serve $(if $(LISTEN),--listen '$(LISTEN)') $(if $(DATA),--data '$(DATA)') $(ARGS)

# Installation (docs/DEPLOY.md): PREFIX (default /usr/local) and DESTDIR as
# usual; man pages and the example configuration are generated from the
# binary's --help (scripts/gen-dist.sh), so they cannot drift from it.
PREFIX  ?= /usr/local
INSTALL_VARS = PREFIX="$(PREFIX)" DESTDIR="$(DESTDIR)" BIN="$(BIN)" GEN="$(BUILD)/dist" \
	$(if $(SYSCONFDIR),SYSCONFDIR="$(SYSCONFDIR)") $(if $(UNITDIR),UNITDIR="$(UNITDIR)")

.PHONY: dist install uninstall deb
dist: $(BIN)
	@bash scripts/gen-dist.sh $(BIN) $(BUILD)/dist

install: dist
	@$(INSTALL_VARS) bash scripts/install.sh install

uninstall:
	@$(INSTALL_VARS) bash scripts/install.sh uninstall

# build/pictor_VERSION_ARCH.deb (docs/DEPLOY.md)
deb: dist
	@bash scripts/make-deb.sh $(BIN) $(BUILD)

bench: all
	@bash bench/run.sh

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf build build-asan build-fuzz build-clang $(BIN)

-include $(LIB_OBJ:.o=.d) $(BUILD)/src/main.d
