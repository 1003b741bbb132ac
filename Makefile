# SPDX-License-Identifier: GPL-2.0
#
# gkm top-level Makefile. `make` builds kmod/gkm.ko and the userspace
# programs; `make check` runs every test; `make demo` runs the demo.
# The kernel module itself is described by Kbuild/kmod/Kbuild.

# --- where things come from ---------------------------------------------------

# KDIR: the kernel build tree. The running kernel's when it has one (a normal
# Debian host), otherwise the newest installed Debian 12 6.1 linux-headers
# tree (our development machines run a kernel that has none). Pinned to the
# 6.1 series so that installing other series' headers (make deps adds 6.12)
# does not change what a plain `make` builds and tests.
#
# GKM_KERNEL=SERIES (6.1, 6.12, 6.12-rt; mk/kernel-series) picks the newest
# installed headers of that series instead, and builds gkm.ko from a copy
# of the sources in $(BUILD)/kmod/SERIES, so that modules for several
# series coexist (make check tests them all; Documentation/testing.rst).
KVER_RUNNING := $(shell uname -r)
ifneq ($(GKM_KERNEL),)
KDIR_SERIES := $(shell mk/kernel-series $(GKM_KERNEL))
KDIR ?= $(KDIR_SERIES)
KMOD_DIR = $(BUILD)/kmod/$(GKM_KERNEL)
else ifneq ($(wildcard /lib/modules/$(KVER_RUNNING)/build/Makefile),)
KDIR ?= /lib/modules/$(KVER_RUNNING)/build
else
KDIR_SERIES := $(shell mk/kernel-series 6.1)
KDIR ?= $(KDIR_SERIES)
endif
# Where gkm.ko is built: in place, or the per-series copy.
KMOD_DIR ?= $(CURDIR)

# Cache outside the tree for material extracted from Debian packages
# (kselftest harness, checkpatch) so that nothing foreign is committed.
GKM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gkm
KSRC_CACHE := $(GKM_CACHE)/linux-source-6.1
KSFT_DIR := $(KSRC_CACHE)/tools/testing/selftests
CHECKPATCH := $(KSRC_CACHE)/scripts/checkpatch.pl
LINUX_SOURCE_TAR := /usr/src/linux-source-6.1.tar.xz
YNL_SOURCE_TAR := /usr/src/linux-source-6.12.tar.xz
YNL_DIR := $(GKM_CACHE)/linux-source-6.12/tools/net/ynl
# Debian's interpreter, with python3-yaml (not whatever python3 is first in PATH).
PYTHON3 ?= /usr/bin/python3

BUILD ?= build
SAN ?=
comma := ,

# --- userspace flags ----------------------------------------------------------

# VERSION is the one version source: the module (kmod/Kbuild), both
# programs (GKM_VERSION), and, checked on every build, dkms.conf and
# debian/changelog (mk/version.mk).
GKM_VERSION := $(shell cat VERSION)

CC ?= cc
USER_CFLAGS := -std=c11 -D_GNU_SOURCE -DGKM_VERSION='"$(GKM_VERSION)"' -O2 -g -Wall -Wextra -Werror \
	-Wno-unused-parameter -Iuapi -Ikmod/core -Ilib \
	$(shell pkg-config --cflags json-c 2>/dev/null)
# Packagers' flags (hardening) come last so they win.
USER_CFLAGS += $(CPPFLAGS) $(CFLAGS)
USER_LDFLAGS += $(LDFLAGS)
ifeq ($(SAN),1)
USER_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
USER_LDFLAGS += -fsanitize=address,undefined
endif

# Three link sets, so that each program's dependencies show its trust
# boundary (Documentation/design.rst, "Map"):
#   libgkm.a     kmod/core (the portable protocol core, compiled unchanged
#                into gkm.ko too) and lib/ (only what both programs share);
#   libgkmctl.a  gkmctl/ but its main.c: the member and admin tool;
#   libgkmd.a    gkmd/ but its main.c: the key server.
# gkmctl sees only its own headers and lib/'s, gkmd likewise; tests and
# benchmarks (which play both sides) see all three.
GKMCTL_LIBS := -lssl -lcrypto -lmnl -ljson-c
GKMD_LIBS := -lssl -lcrypto -lsqlite3 -lcurl -ljson-c -linih -lpthread
USER_LIBS := -lssl -lcrypto -lsqlite3 -lcurl -lmnl -ljson-c -linih -lpthread

LIB_SRCS := $(wildcard kmod/core/*.c) $(wildcard lib/*.c)
LIB := $(BUILD)/libgkm.a
GKMCTL_SRCS := $(wildcard gkmctl/*.c)
GKMCTL_LIB := $(BUILD)/libgkmctl.a
GKMD_SRCS := $(wildcard gkmd/*.c)
GKMD_LIB := $(BUILD)/libgkmd.a
ALL_LIBS := $(GKMCTL_LIB) $(GKMD_LIB) $(LIB)
HDRS := VERSION $(wildcard uapi/linux/*.h kmod/core/*.h lib/*.h gkmctl/*.h gkmd/*.h \
	selftests/kernel/lib/*.h selftests/unit/lib/*.h)
TEST_INC := -Igkmctl -Igkmd -Iselftests/kernel/lib -Iselftests/unit/lib -isystem $(KSFT_DIR)

UNIT_SRCS := $(wildcard selftests/unit/*_test.c)
UNIT_BINS := $(patsubst selftests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard selftests/unit/lib/*.c))
BENCH_SRCS := $(wildcard bench/*_bench.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

PROGS := $(BUILD)/gkmctl $(BUILD)/gkmd

.PHONY: all module kmod-src user deps ksft ynl unit unit-asan check demo bench clean \
	style sparse dkms-check vmtest fuzz
.DEFAULT_GOAL := all

all: version-check module user

user: version-check $(PROGS)

objs = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

$(BUILD)/obj/gkmctl/%.o: gkmctl/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -Igkmctl -c -o $@ $<

$(BUILD)/obj/gkmd/%.o: gkmd/%.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -Igkmd -c -o $@ $<

# Only test programs need the kselftest harness (and so linux-source-6.1).
$(BUILD)/obj/selftests/%.o: selftests/%.c $(HDRS) | ksft
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(TEST_INC) -c -o $@ $<

$(BUILD)/obj/bench/%.o: bench/%.c $(HDRS) | ksft
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(TEST_INC) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

$(LIB): $(call objs,$(LIB_SRCS))
$(GKMCTL_LIB): $(call objs,$(filter-out gkmctl/main.c,$(GKMCTL_SRCS)))
$(GKMD_LIB): $(call objs,$(filter-out gkmd/main.c,$(GKMD_SRCS)))
$(ALL_LIBS):
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gkmctl: $(BUILD)/obj/gkmctl/main.o $(GKMCTL_LIB) $(LIB)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(GKMCTL_LIBS)

$(BUILD)/gkmd: $(BUILD)/obj/gkmd/main.o $(GKMD_LIB) $(LIB)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(GKMD_LIBS)

$(BUILD)/unit/%: $(BUILD)/obj/selftests/unit/%.o $(UNIT_LIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS) -lm

# --- kernel module ------------------------------------------------------------

module: kmod-src
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR)) W=1 modules

# The per-series copy of the module sources (nothing to do for in place).
kmod-src:
	@test -n "$(KDIR)" -a -f "$(KDIR)/Makefile" || \
		{ echo "gkm: no kernel build tree (KDIR='$(KDIR)'$(if $(GKM_KERNEL),$(comma) \
		  GKM_KERNEL=$(GKM_KERNEL))); run 'make deps'" >&2; exit 1; }
ifneq ($(abspath $(KMOD_DIR)),$(CURDIR))
	@mkdir -p $(KMOD_DIR)
	@git ls-files -z --cached --others --exclude-standard -- Kbuild VERSION kmod uapi | \
		xargs -0 cp --parents -u -t $(KMOD_DIR)
endif

# --- dependencies ---------------------------------------------------------------

include mk/version.mk
include mk/deps.mk
include mk/check.mk
include mk/deb.mk
include mk/cross.mk
include mk/source-build.mk

clean:
	rm -rf $(BUILD)
	@if [ -n "$(KDIR)" ] && [ -f "$(KDIR)/Makefile" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi

# Objects built through pattern chains are kept (no rebuild on every run).
.SECONDARY:
