# Postern: build, install, run and test.
#
#   make            build every program into build/
#   make run        install what is missing, build, set up ./run/, run in
#                   the foreground on 127.0.0.1:2525
#   make test       install what is missing, build, run every test on the
#                   normal build (build/) and the ASan+UBSan one (build-san/)
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
DELIVER_LIB = $(filter-out deliver/lspawn.c deliver/local.c,$(wildcard deliver/*.c))
LSPAWN_SRC  = deliver/lspawn.c $(DELIVER_LIB)
LOCAL_SRC   = deliver/local.c $(DELIVER_LIB)
POSTERN_SRC = $(wildcard postern/*.c)
UNIT_SRC    = $(wildcard tests/unit/test_*.c)

LIBEXEC_PROGS = master smtpd enqueue qmgr lspawn local
SBIN_PROGS    = postern
PROGS	= $(addprefix $(B)/,$(LIBEXEC_PROGS) $(SBIN_PROGS))
UNITS	= $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

all: $(PROGS)

$(B)/obj/%.o: %.c $(wildcard common/*.h) $(wildcard */*.h) tests/unit/harness.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/libcommon.a: $(call obj,$(COMMON_SRC))
	rm -f $@
	ar rcs $@ $^

$(B)/master:  $(call obj,$(MASTER_SRC))  $(B)/libcommon.a
$(B)/smtpd:   $(call obj,$(SMTPD_SRC))   $(B)/libcommon.a
$(B)/enqueue: $(call obj,$(ENQUEUE_SRC)) $(B)/libcommon.a
$(B)/qmgr:    $(call obj,$(QMGR_SRC))    $(B)/libcommon.a
$(B)/lspawn:  $(call obj,$(LSPAWN_SRC))  $(B)/libcommon.a
$(B)/local:   $(call obj,$(LOCAL_SRC))   $(B)/libcommon.a
$(B)/postern: $(call obj,$(POSTERN_SRC)) $(B)/libcommon.a

$(PROGS):
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

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/libcommon.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libcommon.a $(LIBS)

units: $(UNITS)

# Packages a fresh Debian 12 needs; installed only when missing, only as root.
DEB_BUILD = build-essential libbsd-dev libssl-dev libcdb-dev
DEB_TEST  = swaks python3 iproute2 procps
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
	for f in conf/postern.conf conf/domains conf/virtual; do \
	    [ -e $(DESTDIR)$(ETCDIR)/$${f#conf/} ] || \
	    install -m 0644 $$f $(DESTDIR)$(ETCDIR)/; done
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/

run: deps
	@$(MAKE) --no-print-directory all
	@sh conf/instance.sh run "$(CURDIR)/run" 2525
	exec "$(CURDIR)/run/sbin/postern" -c "$(CURDIR)/run/etc" run

# Every test runs twice: on the normal build and on the ASan+UBSan one.
test: deps-test
	@$(MAKE) --no-print-directory SANITIZE= B=build all units
	@$(MAKE) --no-print-directory SANITIZE=1 B=build-san all units
	@sh tests/run.sh build build-san

clean:
	rm -rf build build-san

.PHONY: all units deps deps-test install run test clean
