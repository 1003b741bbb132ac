# SPDX-License-Identifier: GPL-2.0
# Test targets. `make check` runs them all through selftests/check-all,
# which counts results and prints the final "N passed, M failed" line.

KTEST_SRCS := $(wildcard selftests/kernel/*_test.c)
KTEST_BINS := $(patsubst selftests/kernel/%.c,$(BUILD)/ktest/%,$(KTEST_SRCS))
KMOD_SRCS := $(shell git ls-files --cached --others --exclude-standard 'kmod/*.[ch]' 2>/dev/null)
# The round trip uses its own DKMS version, so it never touches an installed
# gkm-dkms package (which registers gkm/<upstream version>).
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)+check
KVER_KDIR = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null)

KTEST_LIB_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard selftests/kernel/lib/*.c))

$(BUILD)/ktest/%: $(BUILD)/obj/selftests/kernel/%.o $(KTEST_LIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS)

# The netlink contract: uapi/linux/gkm.h names and numbers what the YNL
# spec does (checked on every build of the tests; the kernel's policies
# are checked against the spec in the VM, selftests/kernel/ynl_test.c).
GKM_SPEC := Documentation/netlink/specs/gkm.yaml
$(BUILD)/netlink/spec-uapi.ok: $(GKM_SPEC) uapi/linux/gkm.h uapi/linux/gkm_wire.h \
		selftests/kernel/ynl/spec_uapi_check.py
	$(PYTHON3) selftests/kernel/ynl/spec_uapi_check.py $(GKM_SPEC) uapi $(BUILD)/netlink $(CC)
	@touch $@
# And the spec is valid under the kernel's netlink schema, checked here once
# rather than by every cli.py start in the VM (which run with --no-schema).
$(BUILD)/netlink/spec-schema.ok: $(GKM_SPEC) selftests/kernel/ynl/spec_schema_check.py | ynl
	@mkdir -p $(dir $@)
	$(PYTHON3) selftests/kernel/ynl/spec_schema_check.py $(BUILD)/ynl/tools/net/ynl $(GKM_SPEC)
	@touch $@
netlink-spec: $(BUILD)/netlink/spec-uapi.ok $(BUILD)/netlink/spec-schema.ok
.PHONY: netlink-spec

# The YNL test runs the kernel's YNL CLI (make ynl), from the repository
# root as every in-VM test does.
$(BUILD)/obj/selftests/kernel/ynl_test.o: USER_CFLAGS += -DKT_YNL_DIR='"$(BUILD)/ynl/tools/net/ynl"' \
	-DKT_PYTHON3='"$(PYTHON3)"'
$(BUILD)/obj/selftests/kernel/ynl_test.o: | ynl

unit-build: $(UNIT_BINS) $(PROGS) $(BUILD)/netlink/spec-uapi.ok \
	$(BUILD)/netlink/spec-schema.ok
# (The demo traffic tool and the benchmarks are built here too, so that
# make check compiles them with -Werror.)
ktest-build: $(KTEST_BINS) $(PROGS) $(BUILD)/demo-traffic $(BENCH_BINS) $(BUILD)/bench/kbench \
	$(BUILD)/bench/report

# Userspace unit tests, from the repository root (they read test vectors),
# side by side (selftests/unit/run-all; GKM_UNIT_JOBS=1: one at a time).
# Under ASan (SAN=1), gkmd_test runs whole, not in shards: its shards'
# kill -9 storms side by side on a loaded host (the cross builds and sparse
# beside) took gkmd's replies past the tests' deadlines (3 of 21 tests
# failed in one of two runs).
unit: unit-build
	@$(if $(SAN),GKM_UNIT_SHARDS= )selftests/unit/run-all $(BUILD)/unit/logs $(UNIT_BINS)

unit-asan:
	$(MAKE) BUILD=build/asan SAN=1 unit

# In-VM kernel tests: boot Debian's kernel for $(KDIR), load the gkm.ko
# built against it (GKM_KERNEL=6.12 for another series; GKM_KTESTS="rekey
# genl" for some test programs only, GKM_KTESTS_SKIP="ynl" for all but
# some, GKM_KTEST_ONLY="fixture.test ..." for
# some tests of those; GKM_TEST_LIGHT=1 for the light mode; GKM_FAILOVER=light
# adds the failover tests, light, to a run of every program).
# The guest's wall-clock limit is a hang guard: the full 6.1 suite took
# 1,614 s on a CI machine with a second guest beside it.
VMTEST_TIMEOUT ?= 2700
vmtest: module ktest-build
	selftests/vm/run --kdir $(KDIR) --module $(abspath $(KMOD_DIR))/kmod/gkm.ko \
		--timeout $(VMTEST_TIMEOUT) -- env $(if $(GKM_KTESTS),GKM_KTESTS="$(GKM_KTESTS)") \
		$(if $(GKM_KTEST_ONLY),GKM_KTEST_ONLY="$(GKM_KTEST_ONLY)") \
		$(if $(GKM_KTESTS_SKIP),GKM_KTESTS_SKIP="$(GKM_KTESTS_SKIP)") \
		$(if $(GKM_TEST_LIGHT),GKM_TEST_LIGHT="$(GKM_TEST_LIGHT)") \
		$(if $(GKM_FAILOVER),GKM_FAILOVER="$(GKM_FAILOVER)") \
		selftests/kernel/run-all $(BUILD)/ktest

# Module build with every W=1 warning turned into an error.
module-werror: kmod-src
	$(MAKE) -C $(KDIR) M=$(abspath $(KMOD_DIR)) W=1 KCFLAGS=-Werror modules

style: $(CHECKPATCH)
	perl $(CHECKPATCH) --strict --no-tree --terse --show-types \
		--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG -f $(KMOD_SRCS)

# sparse over every module source (C=2: all files, not just rebuilt ones).
# W=1 as in `make module`: the objects sparse leaves are then the module's,
# and the next module build (make check's vm-build) has nothing to redo.
sparse: kmod-src
	@out=$$($(MAKE) -s -C $(KDIR) M=$(abspath $(KMOD_DIR)) W=1 C=2 CF="-D__CHECK_ENDIAN__" modules 2>&1); \
	echo "$$out"; \
	if echo "$$out" | grep -E '(warning|error):' >/dev/null; then \
		echo "sparse: reports found" >&2; exit 1; fi

# DKMS round trip against the installed headers: add, build, remove.
dkms-check:
	@test "$$(id -u)" = 0 || { echo "dkms-check: needs root" >&2; exit 1; }
	-dkms remove gkm/$(DKMS_VERSION) --all >/dev/null 2>&1
	rm -rf /usr/src/gkm-$(DKMS_VERSION) $(BUILD)/dkms
	mkdir -p $(BUILD)/dkms/gkm-$(DKMS_VERSION)
	git ls-files -z --cached --others --exclude-standard | \
		grep -zE '^(Kbuild|VERSION|dkms.conf|kmod/|uapi/)' | \
		xargs -0 cp --parents -t $(BUILD)/dkms/gkm-$(DKMS_VERSION)
	sed -i 's/^PACKAGE_VERSION=.*/PACKAGE_VERSION="$(DKMS_VERSION)"/' \
		$(BUILD)/dkms/gkm-$(DKMS_VERSION)/dkms.conf
	dkms add $(BUILD)/dkms/gkm-$(DKMS_VERSION)
	dkms build gkm/$(DKMS_VERSION) -k $(KVER_KDIR) || \
		{ cat /var/lib/dkms/gkm/$(DKMS_VERSION)/build/make.log; \
		  dkms remove gkm/$(DKMS_VERSION) --all; \
		  rm -rf /usr/src/gkm-$(DKMS_VERSION); exit 1; }
	test -f /var/lib/dkms/gkm/$(DKMS_VERSION)/$(KVER_KDIR)/x86_64/module/gkm.ko* || \
		test -n "$$(find /var/lib/dkms/gkm/$(DKMS_VERSION) -name 'gkm.ko*')"
	dkms remove gkm/$(DKMS_VERSION) --all
	rm -rf /usr/src/gkm-$(DKMS_VERSION)
	test ! -e /var/lib/dkms/gkm/$(DKMS_VERSION)

check:
	KDIR=$(KDIR) BUILD=$(BUILD) selftests/check-all

demo: deps
	$(MAKE) all $(BUILD)/demo-traffic
	KDIR=$(KDIR) selftests/vm/run -- env GKM_BUILD=$(BUILD) selftests/demo

# The demo's traffic generator, receivers and eavesdropper (no kselftest harness).
$(BUILD)/demo-traffic: selftests/demo-traffic.c uapi/linux/gkm_wire.h
	@mkdir -p $(dir $@)
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $< -ljson-c

.PHONY: unit-build ktest-build module-werror

# The in-VM tests under the debug kernel (KASAN, kmemleak, lockdep, ...).
check-debug: ktest-build
	BUILD=$(BUILD) selftests/vm/debug-kernel/check
.PHONY: check-debug

# libFuzzer targets: selftests/fuzz/NAME_fuzz.c, seeds in selftests/fuzz/corpus/NAME/.
# New inputs go to build/fuzz/corpus/NAME (the seed corpus stays as committed).
FUZZ_SECONDS ?= 60
FUZZ_SRCS := $(wildcard selftests/fuzz/*_fuzz.c)
FUZZ_BINS := $(patsubst selftests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_CFLAGS := $(filter-out -O2,$(USER_CFLAGS)) -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all

# The fuzz targets play the key server too (its encoder and OpenSSL crypto
# ops build the inputs).
FUZZ_LIB_SRCS := $(LIB_SRCS) gkmd/wire_encode.c gkmd/crypto_openssl.c

$(BUILD)/fuzz/%: selftests/fuzz/%.c $(FUZZ_LIB_SRCS) $(HDRS) | ksft
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(TEST_INC) -o $@ $< $(FUZZ_LIB_SRCS) $(USER_LIBS)

fuzz: $(FUZZ_BINS)
	@for f in $(FUZZ_BINS); do \
		n=$$(basename $$f _fuzz); mkdir -p $(BUILD)/fuzz/corpus/$$n; \
		echo "# fuzz: $$f for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			$(BUILD)/fuzz/corpus/$$n selftests/fuzz/corpus/$$n || exit 1; \
	done

# Benchmarks (not tests): each host bench prints figures and writes
# bench/out/NAME.json; the in-VM bench (build/bench/kbench) writes
# bench/out/kernel.json; build/bench/report gathers them all into
# bench/out/bench.json and prints one table (Documentation/benchmarks.rst).
KBENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,bench/kbench_main.c bench/kbench_apply.c \
	bench/kbench_loss.c bench/kbench_mem.c bench/kbench_flood.c bench/kbench_teardown.c \
	bench/kbench_load.c \
	bench/ref_member.c bench/ref_xfrm.c)
BENCH_VM_DIR := $(abspath $(BUILD))/bench/vm
BENCH_VM_TIMEOUT ?= 1800

$(KBENCH_OBJS) $(BUILD)/obj/bench/report.o: $(wildcard bench/*.h)

$(BUILD)/bench/kbench: $(KBENCH_OBJS) $(KTEST_LIB_OBJS) $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ $(USER_LIBS)

$(BUILD)/bench/report: $(BUILD)/obj/bench/report.o
	@mkdir -p $(dir $@)
	$(CC) $(USER_LDFLAGS) -o $@ $^ -ljson-c -lm

bench: $(BENCH_BINS) $(PROGS) $(BUILD)/bench/kbench $(BUILD)/bench/report module
	@mkdir -p bench/out
	@start=$$(date +%s); \
	for b in $(BENCH_BINS); do \
		n=$$(basename $$b _bench); echo "# bench: $$n"; \
		$$b bench/out/$$n.json || exit 1; \
	done; \
	echo "# bench: kernel (in the VM)"; \
	rm -rf $(BENCH_VM_DIR) bench/out/kernel.json; mkdir -p $(BENCH_VM_DIR); \
	KDIR=$(KDIR) selftests/vm/run --timeout $(BENCH_VM_TIMEOUT) --log $(BENCH_VM_DIR)/serial.log \
		-- $(BUILD)/bench/kbench $(BENCH_VM_DIR)/kernel.json || exit 1; \
	cp $(BENCH_VM_DIR)/kernel.json bench/out/kernel.json || exit 1; \
	$(BUILD)/bench/report bench/out bench/out/bench.json || exit 1; \
	echo "# bench: total $$(( $$(date +%s) - start )) s"
