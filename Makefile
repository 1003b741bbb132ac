# SPDX-License-Identifier: GPL-2.0
#
# gkm top-level Makefile. `make` builds kmod/gkm.ko and the userspace
# programs; `make check` runs every test; `make demo` runs the demo.
# The kernel module itself is described by Kbuild/kmod/Kbuild.

# --- where things come from ---------------------------------------------------

# KDIR: the kernel build tree. The running kernel's when it has one (a normal
# Debian host), otherwise the newest installed Debian linux-headers tree (our
# development machines run a kernel that has none).
KVER_RUNNING := $(shell uname -r)
KDIR_NEWEST := $(lastword $(sort $(wildcard /usr/src/linux-headers-*-amd64)))
ifneq ($(wildcard /lib/modules/$(KVER_RUNNING)/build/Makefile),)
KDIR ?= /lib/modules/$(KVER_RUNNING)/build
else
KDIR ?= $(KDIR_NEWEST)
endif

# Cache outside the tree for material extracted from Debian packages
# (kselftest harness, checkpatch) so that nothing foreign is committed.
GKM_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/gkm
KSRC_CACHE := $(GKM_CACHE)/linux-source-6.1
KSFT_DIR := $(KSRC_CACHE)/tools/testing/selftests
CHECKPATCH := $(KSRC_CACHE)/scripts/checkpatch.pl
LINUX_SOURCE_TAR := /usr/src/linux-source-6.1.tar.xz

BUILD ?= build
SAN ?=

# --- userspace flags ----------------------------------------------------------

CC ?= cc
USER_CFLAGS := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
	-Wno-unused-parameter -Iuapi -Ikmod/core -Igkmctl/lib -Iselftests/kernel/lib -isystem $(KSFT_DIR) \
	$(shell pkg-config --cflags json-c 2>/dev/null)
# Packagers' flags (hardening) come last so they win.
USER_CFLAGS += $(CPPFLAGS) $(CFLAGS)
USER_LDFLAGS += $(LDFLAGS)
ifeq ($(SAN),1)
USER_CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
USER_LDFLAGS += -fsanitize=address,undefined
endif
USER_LIBS := -lssl -lcrypto -lsqlite3 -lmnl -ljson-c -linih

# The portable core (kmod/core) is compiled unchanged into gkm.ko and into
# the userspace library; gkmctl/lib holds userspace-only shared code.
LIB_SRCS := $(wildcard kmod/core/*.c) $(wildcard gkmctl/lib/*.c)
LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
LIB := $(BUILD)/libgkm.a
HDRS := $(wildcard uapi/linux/*.h kmod/core/*.h gkmctl/lib/*.h gkmctl/*.h gkmctl/gkmd/*.h \
	selftests/kernel/lib/*.h)

GKMCTL_SRCS := $(wildcard gkmctl/*.c)
GKMD_SRCS := $(wildcard gkmctl/gkmd/*.c)
UNIT_SRCS := $(wildcard selftests/unit/*_test.c)
UNIT_BINS := $(patsubst selftests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
BENCH_SRCS := $(wildcard bench/*_bench.c)
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRCS))

PROGS := $(BUILD)/gkmctl $(if $(GKMD_SRCS),$(BUILD)/gkmd)

.PHONY: all module user deps ksft unit unit-asan check demo bench clean \
	style sparse dkms-check vmtest fuzz
.DEFAULT_GOAL := all

all: module user

user: $(PROGS)

# Only test programs need the kselftest harness (and so linux-source-6.1).
$(BUILD)/obj/selftests/%.o: selftests/%.c $(HDRS) | ksft
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gkmctl: $(patsubst %.c,$(BUILD)/obj/%.o,$(GKMCTL_SRCS)) $(LIB)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS)

$(BUILD)/gkmd: $(patsubst %.c,$(BUILD)/obj/%.o,$(GKMD_SRCS)) $(LIB)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS) -lpthread

$(BUILD)/unit/%: $(BUILD)/obj/selftests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS) -lm

# --- kernel module ------------------------------------------------------------

module:
	@test -n "$(KDIR)" -a -f "$(KDIR)/Makefile" || \
		{ echo "gkm: no kernel build tree (KDIR='$(KDIR)'); run 'make deps'" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) W=1 modules

# --- dependencies ---------------------------------------------------------------

include mk/deps.mk
include mk/check.mk
include mk/deb.mk

clean:
	rm -rf $(BUILD)
	@if [ -n "$(KDIR)" ] && [ -f "$(KDIR)/Makefile" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi

# Objects built through pattern chains are kept (no rebuild on every run).
.SECONDARY:
