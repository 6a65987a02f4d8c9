# spool: one Makefile for the library, the programs, the tests and the demo.
#
#   make            build bin/spoolctl, bin/spoold, bin/runner (installs deps first)
#   make deps       install the Debian packages the project needs, when missing
#   make test       the whole suite, on the normal build and under ASan+UBSan
#   make test-asan  the suite under AddressSanitizer + UndefinedBehaviorSanitizer only
#   make demo       set up, start a boss and runners, run a sweep, print the leaderboard
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS (60)
#   make soak       the long soak: spoold and runners SIGKILLed under a 5000-job sweep (minutes)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wno-unused-parameter
CPPFLAGS := -std=c11 -D_GNU_SOURCE -Ilib
ASANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Debian packages: build dependencies and the tools the tests and demo use.
DEB_PKGS := gcc make libc6-dev libuv1-dev libcurl4-openssl-dev libjsmn-dev \
            libhttp-parser-dev pkg-config curl python3 procps tar \
            clang libclang-rt-dev strace
# tests/powerfs (the power-cut test): FUSE through Debian's fusepy;
# tests/nfsfs (the NFS tests): libfuse3
DEB_PKGS += python3-fusepy fuse3 libfuse3-dev
# the Slurm tests' private cluster (tests/slurm/; issue 11)
DEB_PKGS += slurm-wlm slurm-client munge
# promtool (Debian's prometheus) checks spoold's /metrics (tests/t-metrics.sh; issue 14)
DEB_PKGS += prometheus
# the page (issue 14): Chart.js served by spoold, xxd to build the page into
# it, chromium for the browser test
DEB_PKGS += libjs-chart.js xxd chromium

LIB_SRC   := $(sort $(wildcard lib/*.c))
LIB_HDR   := $(wildcard lib/*.h)
SPOOLD_SRC := $(sort $(wildcard spoold/*.c))
RUNNER_SRC := $(sort $(wildcard runner/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/*.c))
TOOLS_SRC := $(sort $(wildcard tools/*.c))
# the one HTTP client of runner and spoolctl (libcurl); spoold links none of it
CLIENT_SRC := $(sort $(wildcard client/*.c))
CPPFLAGS += -Iclient

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
bin/spoolctl: $(patsubst %.c,obj/%.o,$(TOOLS_SRC)) obj/libclient.a obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ -lcurl -lm
bin/spoold: $(patsubst %.c,obj/%.o,$(SPOOLD_SRC)) obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_spoold)
bin/runner: $(patsubst %.c,obj/%.o,$(RUNNER_SRC)) obj/libclient.a obj/libspool.a
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_runner)
bin/test/%: obj/tests/unit/%.o obj/libspool.a
	@mkdir -p bin/test
	$(CC) $(CFLAGS) -o $@ $^ -lpthread

# spoold's unit tests (issue 10: its handlers, and the HTTP layer's own)
# link every file of spoold/ but spoold.c (main)
SPOOLD_UNIT_OBJ := $(patsubst %.c,%.o,$(filter-out spoold/spoold.c,$(SPOOLD_SRC)))
SPOOLD_UNITS := test_spoold test_http
$(SPOOLD_UNITS:%=bin/test/%): bin/test/%: obj/tests/unit/%.o $(addprefix obj/,$(SPOOLD_UNIT_OBJ)) obj/libspool.a
	@mkdir -p bin/test
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS_spoold)
$(SPOOLD_UNITS:%=asan/bin/test/%): asan/bin/test/%: asan/obj/tests/unit/%.o $(addprefix asan/obj/,$(SPOOLD_UNIT_OBJ)) asan/obj/libspool.a
	@mkdir -p asan/bin/test
	$(CC) $(ASANFLAGS) -o $@ $^ $(LIBS_spoold)

# spoold's /metrics names its commit (spool_build_info, issue 14); the
# stamp is rewritten only when the commit changes, so metrics.o is rebuilt then
SPOOL_COMMIT := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
obj/commit.stamp: FORCE
	@mkdir -p obj; echo '$(SPOOL_COMMIT)' | cmp -s - $@ || echo '$(SPOOL_COMMIT)' >$@
obj/spoold/metrics.o asan/obj/spoold/metrics.o: obj/commit.stamp
obj/spoold/metrics.o asan/obj/spoold/metrics.o: CPPFLAGS += -DSPOOL_COMMIT='"$(SPOOL_COMMIT)"'
.PHONY: FORCE
FORCE:

# the histogram's unit test (issue 14) links spoold/histogram.c and claimclock.c
bin/test/test_histogram: obj/tests/unit/test_histogram.o obj/spoold/histogram.o obj/spoold/claimclock.o obj/libspool.a
	@mkdir -p bin/test
	$(CC) $(CFLAGS) -o $@ $^ -lpthread
asan/bin/test/test_histogram: asan/obj/tests/unit/test_histogram.o asan/obj/spoold/histogram.o asan/obj/spoold/claimclock.o asan/obj/libspool.a
	@mkdir -p asan/bin/test
	$(CC) $(ASANFLAGS) -o $@ $^ -lpthread

# --- sanitizer build: same sources, objects under asan/ ---------------------
asan/obj/%.o: %.c $(LIB_HDR) $(wildcard spoold/*.h runner/*.h) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ASANFLAGS) $(WARN) -c $< -o $@
ASAN_LIB_OBJ := $(patsubst %.c,asan/obj/%.o,$(LIB_SRC))
asan/obj/libspool.a: $(ASAN_LIB_OBJ)
	@rm -f $@; ar rcs $@ $^
asan/bin/spoolctl: $(patsubst %.c,asan/obj/%.o,$(TOOLS_SRC)) asan/obj/libclient.a asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ -lcurl -lm
asan/bin/spoold: $(patsubst %.c,asan/obj/%.o,$(SPOOLD_SRC)) asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ $(LIBS_spoold)
asan/bin/runner: $(patsubst %.c,asan/obj/%.o,$(RUNNER_SRC)) asan/obj/libclient.a asan/obj/libspool.a
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ $(LIBS_runner)
asan/bin/test/%: asan/obj/tests/unit/%.o asan/obj/libspool.a
	@mkdir -p asan/bin/test
	$(CC) $(ASANFLAGS) -o $@ $^ -lpthread
asan: deps $(patsubst bin/%,asan/bin/%,$(PROGS) $(UNITS))

# --- the HTTP client (client/): an archive of its own, for runner and spoolctl
CLIENT_USERS := $(CLIENT_SRC) $(RUNNER_SRC) $(TOOLS_SRC)
$(patsubst %.c,obj/%.o,$(CLIENT_USERS)) $(patsubst %.c,asan/obj/%.o,$(CLIENT_USERS)): $(wildcard client/*.h)
obj/libclient.a: $(patsubst %.c,obj/%.o,$(CLIENT_SRC))
	@rm -f $@; ar rcs $@ $^
asan/obj/libclient.a: $(patsubst %.c,asan/obj/%.o,$(CLIENT_SRC))
	@rm -f $@; ar rcs $@ $^
# --- the page (web/), built into spoold -----------------------------------------
# Each file becomes a C array (xxd -i) named web_<file>, linked into spoold;
# Chart.js is Debian's (libjs-chart.js), so nothing comes from a CDN.
CHARTJS := /usr/share/javascript/chart.js/chart.min.js
WEB_FILES := web/index.html web/app.js web/app.css
obj/web_assets.c: $(WEB_FILES) | deps
	@mkdir -p obj
	@{ for f in $(WEB_FILES) $(CHARTJS); do \
	     n=web_$$(basename $$f | sed 's/^chart\.min\.js$$/chart.js/; s/[^A-Za-z0-9]/_/g'); \
	     echo "const unsigned char $$n[] = {"; xxd -i <$$f; echo "};"; \
	     echo "const unsigned int $${n}_len = sizeof($$n);"; \
	   done; } >$@.tmp && mv $@.tmp $@
obj/web_assets.o: obj/web_assets.c
	$(CC) $(CFLAGS) -c $< -o $@
asan/obj/web_assets.o: obj/web_assets.c
	@mkdir -p asan/obj
	$(CC) $(ASANFLAGS) -c $< -o $@
bin/spoold $(SPOOLD_UNITS:%=bin/test/%): obj/web_assets.o
asan/bin/spoold $(SPOOLD_UNITS:%=asan/bin/test/%): asan/obj/web_assets.o

# --- tests ---------------------------------------------------------------------
# tests/run finds every unit test binary and every tests/t-*.sh and runs each
# in its own temporary directory; BIN says which build to test.
test-plain: all
	BIN=$(CURDIR)/bin tests/run

test-asan: asan
	BIN=$(CURDIR)/asan/bin ASAN=1 tests/run

# both builds first, two compilers at a time, and the fuzz targets t-fuzz runs
# (a failure there is t-fuzz's to report); then the two runs, one after the other
test: deps
	$(MAKE) -j2 build asan
	-$(MAKE) -s -j2 fuzz-build >/dev/null 2>&1
	$(MAKE) test-plain test-asan

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
BENCH_PKGS := beanstalkd redis-server iproute2 linux-perf
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

# --- fuzzing (issue 9) ----------------------------------------------------------
#   make fuzz          build every tests/fuzz/fuzz_*.c and run each for FUZZ_SECONDS
#                      (default 60) on its seeds, its regression cases and what it
#                      found before; fails when libFuzzer finds a crash, which it
#                      leaves in $(FUZZ_WORK)/crash/TARGET/ (keep it: copy it into
#                      tests/fuzz/regress/TARGET/, a case every run replays)
#   make fuzz-build    only build them, into fuzz/bin/
#   make fuzz-regress  run every regression case through its target, once
# Each target is built by clang with -fsanitize=fuzzer,address,undefined against
# the library compiled by clang under fuzz/obj/ (never mixed with obj/ or asan/obj/).
# Per target TARGET (the file's name without .c), all optional:
#   FUZZ_EXTRA_TARGET   more objects to link, named fuzz/obj/<source>.o so the rule
#                       below compiles them the same way, e.g. for fuzz_http:
#                         FUZZ_EXTRA_fuzz_http := fuzz/obj/spoold/http.o
#   FUZZ_LIBS_TARGET    more libraries, e.g. FUZZ_LIBS_fuzz_http := -lhttp_parser
#   FUZZ_MAXLEN_TARGET  libFuzzer's -max_len (default 4096)
#   tests/fuzz/TARGET.dict            a dictionary, used when present
#   tests/fuzz/corpus/TARGET/         seeds (read only)
#   tests/fuzz/regress/TARGET/        every crashing input found (read only)
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_WORK    ?= fuzz
FUZZ_CFLAGS  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined
FUZZ_SRC     := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_BINS    := $(patsubst %,fuzz/bin/%,$(FUZZ_TARGETS))
FUZZ_MAXLEN_fuzz_json := 4096
FUZZ_MAXLEN_fuzz_job  := 4096
# fuzz_http: spoold's request path (http_feed) with the routing table and all
# it links, that is every file of spoold/ but spoold.c (main; the target has
# its own say and server_maybe_exit); inputs long enough for 414 and 431
FUZZ_EXTRA_fuzz_http  := $(patsubst %.c,fuzz/obj/%.o,$(filter-out spoold/spoold.c,$(SPOOLD_SRC)))
FUZZ_LIBS_fuzz_http   := -luv -lhttp_parser
# (and the page's files, which web.c serves: obj/web_assets.c)
FUZZ_EXTRA_fuzz_http  += fuzz/obj/web_assets.o
fuzz/obj/web_assets.o: obj/web_assets.c
	@mkdir -p fuzz/obj
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
FUZZ_MAXLEN_fuzz_http := 24576
# the flags of one run of target $*
fuzz_args = -max_len=$(or $(FUZZ_MAXLEN_$*),4096) -timeout=10 -rss_limit_mb=2048 \
            -print_final_stats=1 $(if $(wildcard tests/fuzz/$*.dict),-dict=tests/fuzz/$*.dict)

.PHONY: fuzz fuzz-build fuzz-regress clean-fuzz

fuzz/obj/%.o: %.c $(LIB_HDR) $(wildcard spoold/*.h runner/*.h) | deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link $(WARN) -c $< -o $@
fuzz/obj/libspool.a: $(patsubst %.c,fuzz/obj/%.o,$(LIB_SRC))
	@rm -f $@; ar rcs $@ $^
.SECONDEXPANSION:
fuzz/bin/%: fuzz/obj/tests/fuzz/%.o $$(FUZZ_EXTRA_$$*) fuzz/obj/libspool.a
	@mkdir -p fuzz/bin
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(FUZZ_LIBS_$*) -lm -lpthread

fuzz-build: $(FUZZ_BINS)
.SECONDARY: $(patsubst tests/fuzz/%.c,fuzz/obj/tests/fuzz/%.o,$(FUZZ_SRC))

fuzz-regress: $(patsubst %,fuzz-regress-%,$(FUZZ_TARGETS))
fuzz-regress-%: fuzz/bin/%
	@cases=$$(find tests/fuzz/regress/$* -type f 2>/dev/null | sort); \
	if [ -z "$$cases" ]; then echo "fuzz-regress: $*: no cases"; exit 0; fi; \
	echo "fuzz-regress: $*: $$(echo "$$cases" | wc -l) cases"; \
	fuzz/bin/$* $(fuzz_args) $$cases >$(FUZZ_WORK)/$*.regress.log 2>&1 || \
	  { tail -n 40 $(FUZZ_WORK)/$*.regress.log; echo "fuzz-regress: $*: a regression case fails" >&2; exit 1; }
$(patsubst %,fuzz-regress-%,$(FUZZ_TARGETS)) $(patsubst %,fuzz-run-%,$(FUZZ_TARGETS)): | $(FUZZ_WORK)/

fuzz: $(patsubst %,fuzz-run-%,$(FUZZ_TARGETS))
fuzz-run-%: fuzz/bin/%
	@mkdir -p $(FUZZ_WORK)/corpus/$* $(FUZZ_WORK)/crash/$*
	@echo "fuzz: $* for $(FUZZ_SECONDS)s"
	@fuzz/bin/$* $(fuzz_args) -max_total_time=$(FUZZ_SECONDS) \
	  -artifact_prefix=$(FUZZ_WORK)/crash/$*/ $(FUZZ_WORK)/corpus/$* \
	  $(wildcard tests/fuzz/corpus/$* tests/fuzz/regress/$*) >$(FUZZ_WORK)/$*.log 2>&1 || \
	  { tail -n 60 $(FUZZ_WORK)/$*.log; \
	    echo "fuzz: $* found a crash: $$(ls $(FUZZ_WORK)/crash/$*/) in $(FUZZ_WORK)/crash/$*/" >&2; exit 1; }
	@grep -E '^stat::(number_of_executed_units|new_units_added|peak_rss_mb)' $(FUZZ_WORK)/$*.log | \
	  sed 's/^stat::/fuzz: $*: /'

$(FUZZ_WORK)/:
	@mkdir -p $@

clean: clean-fuzz
clean-fuzz:
	rm -rf fuzz

# --- soak (issue 9) -------------------------------------------------------------
#   make soak   tests/t-soak.sh at length: SOAK_JOBS (5000) jobs submitted over
#               SOAK_SUBMIT_S (150) s while spoold and the runners are SIGKILLed
#               at random and restarted; prints its figures (`make test` runs a
#               short one). Its directory is kept when it fails.
SOAK_JOBS ?= 5000
SOAK_SUBMIT_S ?= 150
soak: all
	@d=$$(mktemp -d /tmp/spool-soak.XXXXXX); \
	( cd $$d && BIN=$(CURDIR)/bin TOP=$(CURDIR) TESTDIR=$$d TMPDIR=$$d \
	  SOAK_JOBS=$(SOAK_JOBS) SOAK_SUBMIT_S=$(SOAK_SUBMIT_S) bash $(CURDIR)/tests/t-soak.sh ); \
	rc=$$?; if [ $$rc = 0 ]; then rm -rf $$d; else echo "soak: failed (exit $$rc), kept $$d" >&2; fi; \
	exit $$rc

.PHONY: soak

# --- install (issue 13) ------------------------------------------------------------
#   make install [PREFIX=/usr/local] [DESTDIR=]   the programs, spool-demo, the Python
#                package, the example scripts, sweep and data, man pages made from
#                the programs' --help (help2man), systemd units (dist/systemd/)
#   INSTALL_BIN  the build whose programs are installed (default bin; tests: asan/bin)
#   PYTHONDIR    where the package goes (default: the prefix's purelib of python3)
PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     ?= $(PREFIX)/bin
SHAREDIR   ?= $(PREFIX)/share/spool
MANDIR     ?= $(PREFIX)/share/man/man1
UNITDIR    ?= $(PREFIX)/lib/systemd/system
PYTHONDIR  ?= $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("purelib", vars={"base": "$(PREFIX)", "platbase": "$(PREFIX)"}))' 2>/dev/null || echo $(PREFIX)/lib/python3/dist-packages)
INSTALL_BIN ?= bin
SPOOL_VERSION := $(shell sed -n 's/^\#define SPOOL_VERSION "\(.*\)"/\1/p' lib/version.h)
DEB_PKGS   += help2man
INSTALL_PROGS := spoolctl spoold runner

.PHONY: install uninstall
install: $(if $(filter bin,$(INSTALL_BIN)),all,deps)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SHAREDIR)/runner/scripts/examples \
	  $(DESTDIR)$(SHAREDIR)/examples $(DESTDIR)$(SHAREDIR)/data $(DESTDIR)$(MANDIR) \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PYTHONDIR)/spool
	for p in $(INSTALL_PROGS); do install -m 755 $(INSTALL_BIN)/$$p $(DESTDIR)$(BINDIR)/$$p; done
	sed -e 's|^share=.*|share=$${SPOOL_SHARE:-$$top/$(patsubst $(PREFIX)/%,%,$(SHAREDIR))}|' \
	    -e 's|^bin=.*|bin=$$top/$(patsubst $(PREFIX)/%,%,$(BINDIR))|' \
	    -e 's|^demo=.*|demo=$${DEMO_DIR:-$$PWD/spool-demo}|' tools/demo.sh >$(DESTDIR)$(BINDIR)/spool-demo
	chmod 755 $(DESTDIR)$(BINDIR)/spool-demo
	install -m 755 runner/scripts/nn.py $(DESTDIR)$(SHAREDIR)/runner/scripts/
	install -m 644 runner/scripts/README.md $(DESTDIR)$(SHAREDIR)/runner/scripts/
	install -m 644 runner/scripts/examples/*.json $(DESTDIR)$(SHAREDIR)/runner/scripts/examples/
	install -m 644 examples/*.json $(DESTDIR)$(SHAREDIR)/examples/
	install -m 644 data/* $(DESTDIR)$(SHAREDIR)/data/
	install -m 644 dist/spool.default $(DESTDIR)$(SHAREDIR)/spool.default
	install -m 644 python/spool/*.py $(DESTDIR)$(PYTHONDIR)/spool/
	for p in $(INSTALL_PROGS); do \
	  help2man -N --no-discard-stderr --version-string=$(SPOOL_VERSION) \
	    --name="$$(case $$p in spoolctl) echo 'the spool job queue from the command line';; \
	      spoold) echo 'the boss of a spool: an HTTP job queue over a spool directory';; \
	      runner) echo 'the worker of a spool: claims jobs and runs their scripts';; esac)" \
	    $(INSTALL_BIN)/$$p >$(DESTDIR)$(MANDIR)/$$p.1 || exit 1; done
	for u in dist/systemd/*.service; do \
	  sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SHAREDIR@|$(SHAREDIR)|g' $$u \
	    >$(DESTDIR)$(UNITDIR)/$$(basename $$u) && chmod 644 $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; done

uninstall:
	for p in $(INSTALL_PROGS) spool-demo; do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for p in $(INSTALL_PROGS); do rm -f $(DESTDIR)$(MANDIR)/$$p.1; done
	rm -f $(DESTDIR)$(UNITDIR)/spoold.service $(DESTDIR)$(UNITDIR)/spool-runner@.service
	rm -rf $(DESTDIR)$(SHAREDIR) $(DESTDIR)$(PYTHONDIR)/spool

# --- nfsfs (issue 11) -------------------------------------------------------------
# tests/nfsfs/: a pass-through FUSE file system that behaves like an NFS client
# (no shared inotify, cached attributes and listings, no RENAME_NOREPLACE,
# injected faults), on which tests/t-nfs*.sh run the spool.
NFSFS_CFLAGS = -I/usr/include/fuse3 -D_FILE_OFFSET_BITS=64
build: bin/nfsfs
asan: asan/bin/nfsfs
obj/tests/nfsfs/%.o: tests/nfsfs/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFSFS_CFLAGS) $(CFLAGS) $(WARN) -c $< -o $@
asan/obj/tests/nfsfs/%.o: tests/nfsfs/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(NFSFS_CFLAGS) $(ASANFLAGS) $(WARN) -c $< -o $@
bin/nfsfs: obj/tests/nfsfs/nfsfs.o
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $^ -lfuse3 -lpthread
asan/bin/nfsfs: asan/obj/tests/nfsfs/nfsfs.o
	@mkdir -p asan/bin
	$(CC) $(ASANFLAGS) -o $@ $^ -lfuse3 -lpthread
