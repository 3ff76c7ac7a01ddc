# Postern: build, install, run and test.
#
#   make            build every program into build/
#   make run        install what is missing, build, set up ./run/, run in
#                   the foreground on 127.0.0.1:2525
#   make test       install what is missing, build, run every test on the
#                   normal build (build/) and the ASan+UBSan one (build-san/),
#                   and each libFuzzer harness briefly (build-fuzz/)
#   make torture    the full-size crash test (kill -9 under load, 30 s)
#   make fuzz       each libFuzzer harness for FUZZ_SECONDS (default 300)
#   make install PREFIX=/usr DESTDIR=...
#
# One non-recursive Makefile: each program's sources are its folder's files
# (see the *_SRC lines); everything shared is in common/ and linked from
# libcommon.a.

PREFIX	?= /usr/local
DESTDIR	?=
# Where the example config is installed, and the compiled-in default -c.
ETCDIR	?= $(PREFIX)/etc
CONFDIR	?= /etc/postern
CC	?= cc

WARN	 = -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wpointer-arith \
	   -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
HARDEN	 = -fstack-protector-strong -fPIE
CPPFLAGS = -D_GNU_SOURCE -Icommon -DCONFDIR_DEFAULT='"$(CONFDIR)"'
LDHARDEN = -pie -Wl,-z,relro,-z,now
LIBS	 = -lbsd -lcdb
# Only smtpd, sessiond and rspawn (and the unit tests of their files and of
# common/tls.c) link OpenSSL: the other programs, master above all, do not
# map it. sessiond and rspawn map it once and fork from it.
TLS_LIBS = -lssl -lcrypto

ifeq ($(SANITIZE),1)
B	?= build-san
OPT	 = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
	   -fno-sanitize-recover=undefined
LDSAN	 = -fsanitize=address,undefined
else
B	?= build
OPT	 = -O2 -g
CPPFLAGS += -D_FORTIFY_SOURCE=2
LDSAN	 =
endif

CFLAGS	?=
CFLAGS	+= -std=c17 $(OPT) $(WARN) $(HARDEN)
LDFLAGS	+= $(LDHARDEN) $(LDSAN)

COMMON_SRC  = $(wildcard common/*.c)
MASTER_SRC  = $(wildcard master/*.c)
SMTPD_SRC   = $(wildcard smtpd/*.c)
ENQUEUE_SRC = $(wildcard queue/enqueue*.c)
QMGR_SRC    = $(wildcard queue/qmgr*.c)
DELIVER_LIB = $(filter-out deliver/lspawn.c deliver/local.c deliver/lmtp%.c \
	      deliver/rspawn.c deliver/remote%.c,$(wildcard deliver/*.c))
LSPAWN_SRC  = deliver/lspawn.c $(DELIVER_LIB)
LOCAL_SRC   = deliver/local.c $(DELIVER_LIB)
# lmtp(8) is its own agent: no Maildir code, only the LMTP client.
LMTP_SRC    = deliver/lmtp.c deliver/lmtp_client.c deliver/outcome.c \
	      deliver/agent_args.c
# sessiond forks smtpd and enqueue without exec: their code, but not the
# files holding their main()s.
SESSIOND_SRC = $(wildcard sessiond/*.c) \
	      $(filter-out smtpd/smtpd.c,$(SMTPD_SRC)) \
	      $(filter-out queue/enqueue_main.c,$(ENQUEUE_SRC))
# rspawn(8) forks the remote SMTP client (deliver/remote*.c) without exec;
# resolve(8) is the DNS helper (resolve/resolve.c holds its main()).
REMOTE_LIB  = $(wildcard deliver/remote*.c)
RSPAWN_SRC  = deliver/rspawn.c $(REMOTE_LIB)
RESOLVE_SRC = $(wildcard resolve/*.c)
POSTERN_SRC = $(wildcard postern/*.c)
SENDMAIL_SRC = $(wildcard sendmail/*.c)
UNIT_SRC    = $(wildcard tests/unit/test_*.c)

LIBEXEC_PROGS = master sessiond smtpd enqueue qmgr lspawn local lmtp \
		resolve rspawn
SBIN_PROGS    = postern sendmail
PROGS	= $(addprefix $(B)/,$(LIBEXEC_PROGS) $(SBIN_PROGS))
UNITS	= $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

# bench/floor.c (the benchmark's reference server) and bench/proccost.c
# (what the machine charges for a process), built with the rest so that
# they compile as strictly; never installed.
all: $(PROGS) $(B)/floor $(B)/proccost

$(B)/obj/%.o: %.c $(wildcard common/*.h) $(wildcard */*.h) tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	rm -f $@
	ar rcs $@ $^

$(B)/master:  $(call obj,$(MASTER_SRC))  $(B)/libcommon.a
$(B)/smtpd:   $(call obj,$(SMTPD_SRC))   $(B)/libcommon.a
$(B)/smtpd: LIBS += $(TLS_LIBS)
$(B)/tests/test_smtpd_%: LIBS += $(TLS_LIBS)
$(B)/tests/test_tls: LIBS += $(TLS_LIBS)
$(B)/enqueue: $(call obj,$(ENQUEUE_SRC)) $(B)/libcommon.a
# enqueue checks AUTH passwords with crypt_r() (queue/enqueue_auth.c).
$(B)/enqueue: LIBS += -lcrypt
$(B)/sessiond: $(call obj,$(SESSIOND_SRC)) $(B)/libcommon.a
$(B)/sessiond: LIBS += $(TLS_LIBS) -lcrypt
$(B)/qmgr:    $(call obj,$(QMGR_SRC))    $(B)/libcommon.a
$(B)/lspawn:  $(call obj,$(LSPAWN_SRC))  $(B)/libcommon.a
$(B)/local:   $(call obj,$(LOCAL_SRC))   $(B)/libcommon.a
$(B)/lmtp:    $(call obj,$(LMTP_SRC))    $(B)/libcommon.a
$(B)/rspawn:  $(call obj,$(RSPAWN_SRC))  $(B)/libcommon.a
$(B)/rspawn: LIBS += $(TLS_LIBS)
$(B)/resolve: $(call obj,$(RESOLVE_SRC)) $(B)/libcommon.a
$(B)/resolve: LIBS += -lresolv
$(B)/postern: $(call obj,$(POSTERN_SRC)) $(B)/libcommon.a
$(B)/sendmail: $(call obj,$(SENDMAIL_SRC)) $(B)/libcommon.a
$(B)/floor:   $(call obj,bench/floor.c) $(B)/libcommon.a
$(B)/proccost: $(call obj,bench/proccost.c) $(B)/libcommon.a

$(PROGS) $(B)/floor $(B)/proccost:
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

# A unit test links libcommon.a; test_smtpd_* and test_deliver_* also link
# their component's objects (every one but the file holding main()).
$(B)/tests/test_smtpd_%: $(B)/obj/tests/unit/test_smtpd_%.o \
    $(call obj,$(filter-out smtpd/smtpd.c,$(SMTPD_SRC))) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/test_deliver_%: $(B)/obj/tests/unit/test_deliver_%.o \
    $(call obj,$(DELIVER_LIB)) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/test_lmtp_%: $(B)/obj/tests/unit/test_lmtp_%.o \
    $(call obj,deliver/lmtp_client.c deliver/outcome.c) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/test_remote_%: LIBS += $(TLS_LIBS)
$(B)/tests/test_remote_%: $(B)/obj/tests/unit/test_remote_%.o \
    $(call obj,$(REMOTE_LIB)) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/test_resolve_%: LIBS += -lresolv
$(B)/tests/test_resolve_%: $(B)/obj/tests/unit/test_resolve_%.o \
    $(call obj,$(filter-out resolve/resolve.c,$(RESOLVE_SRC))) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/test_sendmail_%: $(B)/obj/tests/unit/test_sendmail_%.o \
    $(call obj,$(filter-out sendmail/sendmail.c,$(SENDMAIL_SRC))) $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libcommon.a $(LIBS)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcommon.a $(LIBS)

# The power-loss model's LD_PRELOAD shim (tests/faults/README.md), for
# tests/integration/test_powerloss.py; built with "units" because only the
# tests use it. Never sanitized, not even in build-san: it is loaded into
# the programs under test and must not bring a second ASan runtime.
SHIM	= $(B)/faults/crashshim.so
$(SHIM): tests/faults/crashshim.c
	@mkdir -p $(dir $@)
	$(CC) -std=c17 -O2 -g $(WARN) -D_GNU_SOURCE -fPIC -shared -o $@ $< -ldl

units: $(UNITS) $(SHIM)

# libFuzzer harnesses (tests/fuzz/): built with clang into $(FZ)/, every
# object instrumented for ASan+UBSan and coverage; smtpd's, sendmail's and
# resolve's objects (all but the files holding main()) go in an archive with
# common/'s, so that a harness links only what it calls.
# "make fuzz" runs each for FUZZ_SECONDS on a copy of its corpus; "make
# test" runs each briefly (tests/fuzz/run.sh, tallied by tests/run.sh).
# No _FORTIFY_SOURCE: ASan checks every access already, and better.
FZ	?= build-fuzz
FUZZ_CC	?= clang
FUZZ_SECONDS ?= 300
FUZZ_CFLAGS = -std=c17 -O1 -g -fno-omit-frame-pointer $(WARN) \
	   -U_FORTIFY_SOURCE \
	   -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_SRC = $(wildcard tests/fuzz/fuzz_*.c)
FUZZERS	= $(patsubst tests/fuzz/%.c,$(FZ)/%,$(FUZZ_SRC))
fzobj	= $(patsubst %.c,$(FZ)/obj/%.o,$(1))

$(FZ)/obj/%.o: %.c $(wildcard common/*.h) $(wildcard */*.h) tests/fuzz/fuzz.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FZ)/libfuzzlib.a: $(call fzobj,$(filter-out smtpd/smtpd.c,$(SMTPD_SRC)) \
    $(filter-out sendmail/sendmail.c,$(SENDMAIL_SRC)) \
    $(filter-out resolve/resolve.c,$(RESOLVE_SRC)) $(COMMON_SRC))
	rm -f $@
	ar rcs $@ $^

# smtpd's objects call OpenSSL (STARTTLS), linked in when a harness
# pulls one of them in.
$(FZ)/fuzz_%: LIBS += $(TLS_LIBS)
$(FZ)/fuzz_dns: LIBS += -lresolv
$(FZ)/fuzz_%: $(FZ)/obj/tests/fuzz/fuzz_%.o $(FZ)/libfuzzlib.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FZ)/libfuzzlib.a $(LIBS)

fuzzers: $(FUZZERS)
fuzz: deps-test
	@$(MAKE) --no-print-directory fuzzers
	@sh tests/fuzz/run.sh long $(FZ) $(FUZZ_SECONDS)

# Packages a fresh Debian 12 needs; installed only when missing, only as root.
DEB_BUILD = build-essential libbsd-dev libssl-dev libcdb-dev libcrypt-dev
DEB_TEST  = swaks python3 iproute2 procps clang libclang-rt-14-dev valgrind postfix \
	    dovecot-core dovecot-lmtpd dovecot-imapd systemd openssl unbound
deps:
	@sh conf/deps.sh $(DEB_BUILD)
deps-test:
	@sh conf/deps.sh $(DEB_BUILD) $(DEB_TEST)

install: all
	install -d $(DESTDIR)$(PREFIX)/libexec/postern $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(ETCDIR) $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(addprefix $(B)/,$(LIBEXEC_PROGS)) \
	    $(DESTDIR)$(PREFIX)/libexec/postern/
	install -m 0755 $(B)/postern $(DESTDIR)$(PREFIX)/sbin/
	# sendmail(8) with its links; never over /usr/sbin/sendmail (INSTALL)
	install -m 0755 $(B)/sendmail $(DESTDIR)$(PREFIX)/sbin/
	ln -sf sendmail $(DESTDIR)$(PREFIX)/sbin/mailq
	ln -sf sendmail $(DESTDIR)$(PREFIX)/sbin/newaliases
	for f in conf/postern.conf conf/domains conf/virtual conf/aliases; do \
	    [ -e $(DESTDIR)$(ETCDIR)/$${f#conf/} ] || \
	    install -m 0644 $$f $(DESTDIR)$(ETCDIR)/; done
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -d $(DESTDIR)$(PREFIX)/share/postern
	install -m 0644 conf/postern.service $(DESTDIR)$(PREFIX)/share/postern/
	install -m 0755 conf/postern.init $(DESTDIR)$(PREFIX)/share/postern/

run: deps
	@$(MAKE) --no-print-directory all
	@sh conf/instance.sh run "$(CURDIR)/run" 2525
	exec "$(CURDIR)/run/sbin/postern" -c "$(CURDIR)/run/etc" run

# Every test runs twice: on the normal build and on the ASan+UBSan one.
test: deps-test
	@$(MAKE) --no-print-directory SANITIZE= B=build all units
	@$(MAKE) --no-print-directory SANITIZE=1 B=build-san all units
	@$(MAKE) --no-print-directory fuzzers
	@FUZZ_BUILD=$(FZ) sh tests/run.sh build build-san

# Crash safety under load, full size (tests/integration/test_torture.py):
# 2,000 messages over 10 sessions, out to Maildir and to the test's own
# SMTP sink (remote delivery), kill -9 every 200 ms for 30 s; root.
# "make test" runs the short version (300 messages, 5 s of kills).
torture: deps-test
	@$(MAKE) --no-print-directory SANITIZE= B=build all
	POSTERN_TORTURE=full python3 tests/integration/run.py --build build test_torture

clean:
	rm -rf build build-san $(FZ)

# Postern beside Postfix (bench/README.md); root, and slow: not a test.
bench: deps-test
	@$(MAKE) --no-print-directory SANITIZE= B=build all
	POSTERN_BUILD=build python3 bench/bench.py

# Postern's own instructions per message, by program and function, under
# valgrind's callgrind (bench/callgrind.py); root.
profile: deps-test
	@$(MAKE) --no-print-directory SANITIZE= B=build all
	POSTERN_BUILD=build python3 bench/callgrind.py

.PHONY: torture bench profile all units fuzzers fuzz deps deps-test install run test clean
