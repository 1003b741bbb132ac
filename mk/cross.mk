# SPDX-License-Identifier: GPL-2.0
# Other architectures (Documentation/testing.rst, "Architectures"):
#   cross-module  gkm.ko for arm64 and armhf (32-bit ARM), W=1 warnings as
#                 errors and sparse, against Debian's arm64/armmp kernel of the
#                 same release as every amd64 series in CROSS_KDIRS;
#   cross-user    gkmctl, gkmd and the in-VM test programs for arm64;
#   be-unit       the portable core's tests on big-endian s390x (qemu-user);
#   vmtest-arm64  the arm64 gkm.ko in Debian's arm64 kernel under
#                 qemu-system-aarch64 (selftests/vm/run --arch arm64).
# Kernel trees, kernel images and target sysroots are Debian packages of the
# target architecture, unpacked once into $(GKM_CACHE)/cross by
# selftests/cross/ (private apt state: the host's dpkg is not touched).

# The 6.1 series of KDIR, and the newest installed 6.12 (amd64) if any.
KDIR_612 := $(shell mk/kernel-series 6.12)
CROSS_KDIRS ?= $(KDIR) $(KDIR_612)
CROSS_MODULE_ARCHS ?= arm64 armhf

cross_gnu = $(patsubst arm64,aarch64-linux-gnu,$(patsubst armhf,arm-linux-gnueabihf,$(patsubst s390x,s390x-linux-gnu,$(1))))
kdir_release = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(1)/include/generated/utsrelease.h 2>/dev/null)

# One output directory per architecture and kernel release (the sources are
# copied there: see selftests/cross/kmod-build).
cross-module:
	@set -e; for k in $(CROSS_KDIRS); do \
		rel=$$(sed -n 's/^#define UTS_RELEASE "\(.*\)"/\1/p' $$k/include/generated/utsrelease.h); \
		for a in $(CROSS_MODULE_ARCHS); do \
			echo "# cross-module: $$a, Debian $${rel%-amd64}"; \
			selftests/cross/kmod-build $$a $$k $(BUILD)/cross/$$a-$${rel%-amd64}; \
		done; \
	done

# Userspace for ARCH: this Makefile again, with the cross compiler and the
# target's sysroot (pkg-config reads the sysroot's .pc files).
CROSS_USER_GOALS ?= user
cross-user-%: ksft
	@root=$$(selftests/cross/sysroot $*) && \
	PKG_CONFIG_LIBDIR=$$root/usr/lib/$(call cross_gnu,$*)/pkgconfig:$$root/usr/share/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR=$$root \
	$(MAKE) -s BUILD=$(BUILD)/$* CC="$(call cross_gnu,$*)-gcc-12 --sysroot=$$root" \
		$(CROSS_USER_GOALS)

# gkmctl and gkmd, and the in-VM test programs of the arm64 run.
ARM64_KTESTS ?= module genl rekey vectors
cross-user:
	$(MAKE) -s cross-user-arm64 CROSS_USER_GOALS="user \
		$(patsubst %,$(BUILD)/arm64/ktest/%_test,$(ARM64_KTESTS))"

# The portable core's tests on a big-endian target, built for s390x and run
# by qemu-user with the s390x sysroot: the wire format (parsers, encoder,
# every-bit-flip and mutation properties), the keystore (unwrap, apply,
# all-or-nothing), and every vector of selftests/vectors regenerated
# byte-identical and replayed. (lkh_test, gkmd's tree, has 65,536-member
# cases that outlast the harness's 30 s limit under emulation.)
BE_UNITS ?= wire keystore vectors
BE_ARCH ?= s390x
be-unit:
	$(MAKE) -s cross-user-$(BE_ARCH) \
		CROSS_USER_GOALS="$(patsubst %,$(BUILD)/$(BE_ARCH)/unit/%_test,$(BE_UNITS))"
	@root=$$(selftests/cross/sysroot $(BE_ARCH)); fail=0; \
	for t in $(BE_UNITS); do \
		echo "# be-unit: $(BE_ARCH) $$t"; \
		qemu-$(BE_ARCH) -L $$root $(BUILD)/$(BE_ARCH)/unit/$${t}_test || fail=1; \
	done; exit $$fail

.PHONY: cross-module cross-user be-unit

# The arm64 guest: Debian's arm64 kernel of KDIR's release, the arm64
# gkm.ko built against its headers, the test programs built for arm64. A
# lean subset (TCG emulates every arm64 instruction): module load/unload,
# genl, vectors, and of the rekey tests the zero-loss one under traffic and
# the flood of forgeries, in the light mode of the debug pass.
ARM64_ABI = $(patsubst %-amd64,%,$(call kdir_release,$(KDIR)))
ARM64_MODULE = $(BUILD)/cross/arm64-$(ARM64_ABI)/kmod/gkm.ko
ARM64_KTEST_ONLY ?= rekey.no_packet_lost_across_rekeys_under_traffic \
	rekey.flood_of_forgeries_is_counted_and_harmless
ARM64_VM_TIMEOUT ?= 2400

$(BUILD)/cross/arm64-%/kmod/gkm.ko: $(KMOD_SRCS) Kbuild kmod/Kbuild
	selftests/cross/kmod-build arm64 $(KDIR) $(BUILD)/cross/arm64-$*

vmtest-arm64: $(ARM64_MODULE) cross-user
	selftests/vm/run --arch arm64 --kdir $(KDIR) --module $(ARM64_MODULE) \
		--timeout $(ARM64_VM_TIMEOUT) -- env GKM_TEST_LIGHT=1 GKM_SLOW_GUEST=1 \
		GKM_KTESTS="$(ARM64_KTESTS)" GKM_KTEST_ONLY="$(ARM64_KTEST_ONLY)" \
		selftests/kernel/run-all $(BUILD)/arm64/ktest

.PHONY: vmtest-arm64
