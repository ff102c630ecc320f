# sshroute: route SSH connections by user name.

VERSION     = 0.1.0
PREFIX     ?= /usr/local
ifeq ($(PREFIX),/usr)
SYSCONFDIR ?= /etc
else
SYSCONFDIR ?= $(PREFIX)/etc
endif
BINDIR     ?= $(PREFIX)/sbin
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DESTDIR    ?=
INSTALL    ?= install
PKG_CONFIG ?= pkg-config
CC         ?= cc

LIBS_PC  = libssh libsystemd inih libcrypto
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith
# pkg-config runs once, at the first compile or link, not once per
# compile, and not when the Makefile is read: `make deps` installs it (and
# the libraries) on a fresh machine, where reading it would fail.
PC_CFLAGS = $(eval PC_CFLAGS := $$(shell $$(PKG_CONFIG) --cflags $$(LIBS_PC)))$(PC_CFLAGS)
PC_LIBS   = $(eval PC_LIBS := $$(shell $$(PKG_CONFIG) --libs $$(LIBS_PC)))$(PC_LIBS)
DEFAULT_CONFIG = $(SYSCONFDIR)/sshroute/route.ini
CPPFLAGS += -DVERSION='"$(VERSION)"' -DDEFAULT_CONFIG='"$(DEFAULT_CONFIG)"' $(PC_CFLAGS)
LDLIBS  += $(PC_LIBS)

# Units and man pages get their paths from make, not by hand.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g'

OBJS = sshroute.o auth.o cert.o config.o connection.o forward.o keys.o log.o lookup.o pair.o proxyproto.o record.o relay.o route.o upstream.o utf8.o
HDRS = algorithms.h auth.h cert.h config.h connection.h forward.h keys.h log.h lookup.h pair.h proxyproto.h record.h relay.h route.h upstream.h utf8.h
# The unit tests are the files tests/unit_NAME.c, the gcc fuzz passes the
# files tests/fuzz_NAME.c: each list is made here, from the files, and
# tests/run runs what it finds the same way.
UNIT_NAMES = $(patsubst tests/unit_%.c,%,$(wildcard tests/unit_*.c))
FUZZ_NAMES = $(filter-out standalone,$(patsubst tests/fuzz_%.c,%,$(wildcard tests/fuzz_*.c)))
UNIT_TESTS = $(UNIT_NAMES:%=tests/unit_%) $(FUZZ_NAMES:%=tests/fuzz_%_standalone)

# Debian packages needed to build and to run the tests.
DEPS = gcc make pkg-config libssh-dev libsystemd-dev libinih-dev \
       openssh-server openssh-client tmux mandoc systemd iproute2 util-linux passwd procps \
       dropbear-bin tinysshd putty-tools python3-paramiko python3-asyncssh haproxy xinetd fail2ban python3-systemd rsyslog ssh-audit sqlite3 curl jq xauth time man-db asciinema \
       clang libclang-rt-dev valgrind cppcheck clang-tidy \
       debootstrap systemd-container debhelper lintian libssl-dev

all: sshroute

sshroute: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# sshroute.o has the default route.ini's path built in. This file holds
# the path it was built with, and changes only when the path does, so that
# `make PREFIX=/usr` after a plain `make` builds sshroute.o again.
build/default-config: FORCE
	@mkdir -p build
	@echo '$(DEFAULT_CONFIG)' | cmp -s - $@ || echo '$(DEFAULT_CONFIG)' >$@
sshroute.o: build/default-config

# What each unit test links besides its own source; one rule links them
# all (and, with the sanitizers, build-asan/unit_NAME below).
UNIT_OBJS_cert       = cert.o keys.o log.o
UNIT_OBJS_config     = config.o cert.o keys.o log.o lookup.o route.o utf8.o
UNIT_OBJS_keys       = keys.o log.o
UNIT_OBJS_proxyproto = proxyproto.o
UNIT_OBJS_record     = record.o log.o utf8.o

.SECONDEXPANSION:
tests/unit_%: tests/unit_%.c tests/unit.h $(HDRS) $$(UNIT_OBJS_$$*)
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -I. -o $@ $< $(UNIT_OBJS_$*) $(LDLIBS)

# The fuzz targets for route.ini and routes (config.c) and for
# authorized_keys (keys.c): with clang and libFuzzer for make check-long,
# and with gcc and tests/fuzz_standalone.c for make check (their seed
# corpus in tests/corpus/NAME, then fixed mutations of it; a few seconds).
FUZZ_SAN   = -g -O1 -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_FLAGS_C = -std=c11 -D_GNU_SOURCE $(FUZZ_SAN) $(CPPFLAGS) -I.
# What each fuzz target compiles besides its own source, and how many
# mutations the gcc pass runs.
FUZZ_SRC_config     = config.c cert.c keys.c log.c lookup.c route.c utf8.c
FUZZ_SRC_keys       = keys.c log.c
FUZZ_SRC_proxyproto = proxyproto.c
FUZZ_RUNS_config     = 10000
FUZZ_RUNS_keys       = 20000
FUZZ_RUNS_proxyproto = 2000000

tests/fuzz_%_standalone: tests/fuzz_%.c tests/fuzz_standalone.c $(HDRS) $$(FUZZ_SRC_$$*)
	$(CC) $(FUZZ_FLAGS_C) -DFUZZ_STANDALONE -DFUZZ_NAME='"$*"' -DFUZZ_ITERATIONS=$(FUZZ_RUNS_$*) \
		-o $@ $< $(FUZZ_SRC_$*) tests/fuzz_standalone.c $(LDLIBS)

tests/fuzz_%: tests/fuzz_%.c $(HDRS) $$(FUZZ_SRC_$$*)
	clang $(FUZZ_FLAGS_C) -fsanitize=fuzzer -o $@ $< $(FUZZ_SRC_$*) $(LDLIBS)

# check and demo first install the Debian packages that are missing
# (deps does nothing when all are there), then build: gcc may be one.
check: deps
	$(MAKE) sshroute unit-tests
	tests/run

unit-tests: $(UNIT_TESTS)

demo: deps
	$(MAKE) sshroute
	tests/demo.sh

# The benchmark, as root: sshroute against direct SSH and an OpenSSH
# bastion (bench/run.sh; ROUNDS=, SIZE_MIB=, CONC=, SEQ=... in the
# environment or on the make command line). Prints a table and writes
# bench/results-DATE.txt.
bench: sshroute
	bench/run.sh

# Installs the missing Debian packages; does nothing when all are there.
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: lint-man lint-c

lint-man:
	mandoc -Tlint -W warning man/sshroute.8 man/route.ini.5

# Static analysis of sshroute's sources: cppcheck and clang-tidy, both
# must be silent. False positives are suppressed where they occur, with a
# reason. Left out as a whole: cppcheck's variableScope (declarations at
# the top of a block are this project's style); clang-tidy's
# DeprecatedOrUnsafeBufferHandling (wants C11 Annex K functions, which
# glibc does not have), cert-err33-c (the results of snprintf, fprintf to
# stderr and fclose of read-only files are ignored on purpose),
# misc-misplaced-const (libssh spells its key parameters "const ssh_key"),
# and three that clang-tidy 19 (Debian 13) adds: misc-include-cleaner
# (wants every symbol's own header), bugprone-assignment-in-if-condition
# ("if ((rc = f()) < 0)" is this project's style, as OpenBSD's) and
# bugprone-multi-level-implicit-pointer-conversion (realloc of a char **).
SRCS = $(OBJS:.o=.c)
CPPCHECK_FLAGS = --enable=warning,style,performance,portability --error-exitcode=1 \
                 --inline-suppr -q --std=c11 -D_GNU_SOURCE --suppress=variableScope \
                 --suppress=normalCheckLevelMaxBranches
TIDY_CHECKS = -*,clang-analyzer-*,bugprone-*,-bugprone-easily-swappable-parameters,cert-*,\
              -cert-err33-c,misc-*,-misc-misplaced-const,-misc-include-cleaner,performance-*,portability-*,\
              -bugprone-assignment-in-if-condition,-bugprone-multi-level-implicit-pointer-conversion,\
              -clang-analyzer-security.insecureAPI.DeprecatedOrUnsafeBufferHandling

# clang-tidy runs once per file: in one process for all of them, clang
# 14's analyzer carries state from file to file and reports a va_list in
# log.c as uninitialized after va_start.
lint-c: SHELL = /bin/bash
lint-c:
	cppcheck $(CPPCHECK_FLAGS) $(shell $(PKG_CONFIG) --cflags-only-I $(LIBS_PC)) $(SRCS)
	@status=0; for f in $(SRCS); do echo "clang-tidy $$f"; \
		clang-tidy --quiet --warnings-as-errors='*' --checks='$(TIDY_CHECKS)' "$$f" -- \
			-std=c11 -D_GNU_SOURCE $(CPPFLAGS) 2>&1 | sed '/warnings\{0,1\} generated\.$$/d'; \
		[ "$${PIPESTATUS[0]}" = 0 ] || status=1; \
	done; exit $$status

# ---- the long checks (make check-long; tests/README.md)

# sshroute built with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-asan/ (the normal build stays as it is), and the unit tests
# so built. check-asan runs them and the whole test suite against
# build-asan/sshroute; any sanitizer report fails it (tests/check-asan.sh).
ASAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_UNIT_TESTS = $(UNIT_NAMES:%=build-asan/unit_%)

build-asan/%.o: %.c $(HDRS)
	@mkdir -p build-asan
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

build-asan/sshroute: $(addprefix build-asan/,$(OBJS))
	$(CC) $(CFLAGS) $(ASAN_FLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

build-asan/unit_%: tests/unit_%.c tests/unit.h $(HDRS) $$(addprefix build-asan/,$$(UNIT_OBJS_$$*))
	$(CC) $(CPPFLAGS) $(CFLAGS) $(ASAN_FLAGS) -Wno-missing-prototypes -I. -o $@ \
		$< $(addprefix build-asan/,$(UNIT_OBJS_$*)) $(LDLIBS)

check-asan: sshroute $(UNIT_TESTS) build-asan/sshroute $(ASAN_UNIT_TESTS)
	tests/check-asan.sh build-asan/sshroute $(ASAN_UNIT_TESTS)

# One session (password login, a command, sftp put and get of 4 MiB), a
# key login and failed logins, each under valgrind: no invalid access,
# nothing definitely lost.
check-valgrind: sshroute
	tests/valgrind-session.sh

# libFuzzer: each target for a fixed number of inputs (tests/fuzz-long.sh).
FUZZ_RUNS = config=250000 keys=250000 proxyproto=20000000
fuzz: tests/fuzz_config tests/fuzz_keys tests/fuzz_proxyproto
	tests/fuzz-long.sh $(FUZZ_RUNS)

check-long: deps check-asan check-valgrind fuzz lint

# The suite on Debian 13 and unstable, each in a chroot of its own (tests/chroot.sh),
# one after the other: each run alone keeps the machine's 2 cores.
DISTS = trixie sid
check-dists: deps
	@rc=0; for d in $(DISTS); do echo "# Debian $$d (tests/chroot.sh $$d)"; \
		tests/chroot.sh $$d || rc=1; done; exit $$rc

# The units under a real systemd (tests/nspawn.sh): each release's chroot
# builds its package, then boots as a container that runs
# tests/systemd-units.sh. Debian 12's chroot too: the host is not booted
# by systemd.
SYSTEMD_DISTS = bookworm $(DISTS)
check-systemd: deps
	@rc=0; for d in $(SYSTEMD_DISTS); do echo "# Debian $$d under systemd (tests/nspawn.sh $$d)"; \
		tests/chroot.sh $$d sh -c 'make deb >build-deb.log 2>&1 || { tail -n 5 build-deb.log; exit 1; }' && \
		tests/nspawn.sh $$d || rc=1; done; exit $$rc

# What make install puts there, besides the sample route.ini. The man pages
# and the units get their paths filled in. It never calls systemctl and
# never overwrites an existing route.ini.
INSTALLED = $(BINDIR)/sshroute $(MANDIR)/man8/sshroute.8 $(MANDIR)/man5/route.ini.5 \
            $(UNITDIR)/sshroute.socket $(UNITDIR)/sshroute@.service \
            $(DATADIR)/sshroute/sshroute.xinetd

install: sshroute
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR)/sshroute $(DESTDIR)$(SYSCONFDIR)/sshroute
	$(INSTALL) -m 755 sshroute $(DESTDIR)$(BINDIR)/sshroute
	$(INSTALL) -m 644 man/sshroute.8 $(DESTDIR)$(MANDIR)/man8/sshroute.8
	$(INSTALL) -m 644 man/route.ini.5 $(DESTDIR)$(MANDIR)/man5/route.ini.5
	$(INSTALL) -m 644 units/sshroute.socket units/sshroute@.service $(DESTDIR)$(UNITDIR)
	$(INSTALL) -m 644 units/sshroute.xinetd $(DESTDIR)$(DATADIR)/sshroute/sshroute.xinetd
	$(SUBST) -i $(addprefix $(DESTDIR),$(filter-out $(BINDIR)/sshroute,$(INSTALLED)))
	test -e $(DESTDIR)$(SYSCONFDIR)/sshroute/route.ini || { \
		$(INSTALL) -m 644 route.ini $(DESTDIR)$(SYSCONFDIR)/sshroute/route.ini && \
		$(SUBST) -i $(DESTDIR)$(SYSCONFDIR)/sshroute/route.ini; }

# Removes what install put there, except $(SYSCONFDIR)/sshroute: the
# configuration and the keys stay.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(DATADIR)/sshroute 2>/dev/null || true

# The Debian package, built with debhelper from a copy of the source tree
# in build/deb, where the .deb lands; lintian checks it (LINTIAN_FAIL).
LINTIAN_FAIL ?= error,warning
deb:
	rm -rf build/deb
	tests/tree-copy.sh build/deb/sshroute-$(VERSION)
	cd build/deb/sshroute-$(VERSION) && dpkg-buildpackage -us -uc -b
	lintian --fail-on $(LINTIAN_FAIL) build/deb/sshroute_$(VERSION)_*.deb

clean:
	rm -f sshroute $(OBJS) $(UNIT_TESTS) $(FUZZ_NAMES:%=tests/fuzz_%)
	rm -rf build-asan build-fuzz

.PHONY: FORCE all check check-dists check-systemd unit-tests demo bench deb deps lint lint-man lint-c check-asan check-valgrind fuzz check-long \
        install uninstall clean
