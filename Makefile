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

LIBS_PC  = libssh libsystemd inih
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wmissing-prototypes \
           -Wstrict-prototypes -Wpointer-arith
CPPFLAGS += -DVERSION='"$(VERSION)"' -DDEFAULT_CONFIG='"$(SYSCONFDIR)/sshroute/route.ini"' \
            $(shell $(PKG_CONFIG) --cflags $(LIBS_PC))
LDLIBS  += $(shell $(PKG_CONFIG) --libs $(LIBS_PC))

# Units and man pages get their paths from make, not by hand.
SUBST = sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
            -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g'

OBJS = sshroute.o auth.o config.o forward.o keys.o log.o lookup.o proxyproto.o relay.o upstream.o
HDRS = auth.h config.h forward.h keys.h log.h lookup.h pair.h proxy.h proxyproto.h relay.h upstream.h
UNIT_TESTS = tests/unit_config tests/unit_keys tests/unit_proxyproto tests/fuzz_proxyproto_standalone

# Debian packages needed to build and to run the tests.
DEPS = gcc make pkg-config libssh-dev libsystemd-dev libinih-dev \
       openssh-server openssh-client tmux mandoc systemd iproute2 util-linux passwd procps \
       dropbear-bin putty-tools python3-paramiko python3-asyncssh haproxy xinetd ssh-audit sqlite3 curl jq xauth

all: sshroute

sshroute: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS)

%.o: %.c $(HDRS)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

tests/unit_config: tests/unit_config.c config.o config.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -I. -o $@ tests/unit_config.c config.o $(LDLIBS)

tests/unit_keys: tests/unit_keys.c keys.o log.o keys.h log.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -I. -o $@ tests/unit_keys.c keys.o log.o $(LDLIBS)

tests/unit_proxyproto: tests/unit_proxyproto.c proxyproto.o proxyproto.h
	$(CC) $(CPPFLAGS) $(CFLAGS) -Wno-missing-prototypes -I. -o $@ tests/unit_proxyproto.c proxyproto.o

# The PROXY header fuzz target without libFuzzer (gcc, sanitizers): a
# quick pass in make check. With clang: make tests/fuzz_proxyproto, then
# tests/fuzz_proxyproto -max_total_time=60 CORPUS_DIR
tests/fuzz_proxyproto_standalone: tests/fuzz_proxyproto.c proxyproto.c proxyproto.h
	$(CC) -std=c11 -D_GNU_SOURCE -DFUZZ_STANDALONE -g -O1 -fsanitize=address,undefined \
		-fno-sanitize-recover=all -I. -o $@ tests/fuzz_proxyproto.c proxyproto.c

tests/fuzz_proxyproto: tests/fuzz_proxyproto.c proxyproto.c proxyproto.h
	clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all -I. -o $@ tests/fuzz_proxyproto.c proxyproto.c

check: sshroute $(UNIT_TESTS)
	tests/run

demo: sshroute
	tests/demo.sh

# Installs the missing Debian packages; does nothing when all are there.
deps:
	@missing=$$(for p in $(DEPS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing:" $$missing; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

lint: lint-man

lint-man:
	mandoc -Tlint -W warning man/sshroute.8 man/route.ini.5

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

clean:
	rm -f sshroute $(OBJS) $(UNIT_TESTS) tests/fuzz_proxyproto

.PHONY: all check demo deps lint lint-man install uninstall clean
