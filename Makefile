# spool: one Makefile for the library, the programs, the tests and the demo.
#
#   make            build bin/spoolctl, bin/spoold, bin/runner (installs deps first)
#   make deps       install the Debian packages the project needs, when missing
#   make test       the whole suite, on the normal build and under ASan+UBSan
#   make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer only
#   make demo       set up, start a boss and runners, run a sweep, print the leaderboard

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter
CPPFLAGS := -std=c11 -D_GNU_SOURCE -Ilib
ASANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Debian packages: build dependencies and the tools the tests and demo use.
DEB_PKGS := gcc make libc6-dev libuv1-dev libcurl4-openssl-dev libjsmn-dev \
            libhttp-parser-dev pkg-config curl python3 procps tar

LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_HDR   := $(wildcard lib/*.h)
SPOOLD_SRC := $(sort $(wildcard spoold/*.c))
RUNNER_SRC := $(sort $(wildcard runner/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/*.c))
TOOLS_SRC := $(sort $(wildcard tools/*.c))

PROGS := bin/spoolctl
ifneq ($(SPOOLD_SRC),)
PROGS += bin/spoold
endif
ifneq ($(RUNNER_SRC),)
PROGS += bin/runner
endif
UNITS := $(patsubst tests/unit/%.c,bin/test/%,$(UNIT_SRC))

LIBS_spoold := -luv -lhttp_parser -lpthread
LIBS_runner := -lcurl -lpthread

.PHONY: all deps test test-asan test-plain asan demo bench bench-quick clean

all: deps build
build: $(PROGS) $(UNITS)

# Installs only what is missing, so it is cheap to call from every target.
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  if [ "$$(id -u)" != 0 ]; then echo "make deps: need root to install:$$missing" >&2; exit 1; fi; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

# --- normal build -----------------------------------------------------------
obj/%.o: %.c $(LIB_HDR) $(wildcard spoold/*.h runner/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

LIB_OBJ := $(patsubst %.c,obj/%.o,$(LIB_SRC))
obj/libspool.a: $(LIB_OBJ)
	@rm -f $@; ar rcs $@ $^

# spoolctl is every file of tools/ (spoolctl.c, sweep.c, ...).
$(patsubst %.c,obj/%.o,$(TOOLS_SRC)) $(patsubst %.c,asan/obj/%.o,$(TOOLS_SRC)): $(wildcard tools/*.h)
bin/spoolctl: $(patsubst %.c,obj/%.o,$(TOOLS_SRC)) obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ -lcurl -lm
bin/spoold: $(patsubst %.c,obj/%.o,$(SPOOLD_SRC)) obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_spoold)
bin/runner: $(patsubst %.c,obj/%.o,$(RUNNER_SRC)) obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_runner)
bin/test/%: obj/tests/unit/%.o obj/libspool.a
	@mkdir -p bin/test
	$(CC) $(CFLAGS) -o $@ $^ -lpthread

# --- sanitizer build: same sources, objects under asan/ ---------------------
asan/obj/%.o: %.c $(LIB_HDR) $(wildcard spoold/*.h runner/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASANFLAGS) $(WARN) -c $< -o $@
ASAN_LIB_OBJ := $(patsubst %.c,asan/obj/%.o,$(LIB_SRC))
asan/obj/libspool.a: $(ASAN_LIB_OBJ)
	@rm -f $@; ar rcs $@ $^
asan/bin/spoolctl: $(patsubst %.c,asan/obj/%.o,$(TOOLS_SRC)) asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ -lcurl -lm
asan/bin/spoold: $(patsubst %.c,asan/obj/%.o,$(SPOOLD_SRC)) asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ $(LIBS_spoold)
asan/bin/runner: $(patsubst %.c,asan/obj/%.o,$(RUNNER_SRC)) asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ $(LIBS_runner)
asan/bin/test/%: asan/obj/tests/unit/%.o asan/obj/libspool.a
	@mkdir -p asan/bin/test
	$(CC) $(ASANFLAGS) -o $@ $^ -lpthread
asan: deps $(patsubst bin/%,asan/bin/%,$(PROGS) $(UNITS))

# --- tests ---------------------------------------------------------------------
# tests/run finds every unit test binary and every tests/t-*.sh and runs each
# in its own temporary directory; BIN says which build to test.
test-plain: all
	BIN=$(CURDIR)/bin tests/run

test-asan: asan
	BIN=$(CURDIR)/asan/bin ASAN=1 tests/run

test: test-plain test-asan

# The first thing a new user runs: a boss, a sweep, two runners, a leaderboard.
demo: all
	tools/demo.sh

clean:
	rm -rf obj bin asan

# --- benchmarks (bench/, issue 6) -----------------------------------------------
#   make bench        the whole benchmark, a few minutes: prints one table and
#                     writes it to BENCHMARKS.md (spool and beanstalkd, same run)
#   make bench-quick  smaller N and no 1M-order parts, under a minute; prints only
#   make bench-deps   the Debian packages the benchmark needs, when missing
BENCH_PKGS := beanstalkd iproute2 linux-perf
BENCH_PROGS := bin/bench-gen bin/bench-local

build: $(BENCH_PROGS)
asan: $(patsubst bin/%,asan/bin/%,$(BENCH_PROGS))

bench-deps:
	@$(MAKE) --no-print-directory deps DEB_PKGS="$(BENCH_PKGS)"

obj/bench/%.o: bench/%.c bench/bench.h $(LIB_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@
bin/bench-gen: obj/bench/gen.o obj/bench/job.o
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^
bin/bench-local: obj/bench/local.o obj/bench/job.o obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^
asan/obj/bench/%.o: bench/%.c bench/bench.h $(LIB_HDR) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASANFLAGS) $(WARN) -c $< -o $@
asan/bin/bench-gen: asan/obj/bench/gen.o asan/obj/bench/job.o
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^
asan/bin/bench-local: asan/obj/bench/local.o asan/obj/bench/job.o asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^

bench: deps bench-deps build
	bench/run.sh

bench-quick: deps bench-deps build
	BENCH_QUICK=1 bench/run.sh

.PHONY: bench-deps
