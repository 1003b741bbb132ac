# SPDX-License-Identifier: GPL-2.0
# `make source-build-check`: gkm.ko compiled (W=1 -Werror) against the
# newest Linux source Debian offers, linux-source-6.12 (make deps installs
# it), configured as Debian's 6.12 kernel: the .config of the installed
# linux-headers-6.12.*-amd64 (mk/kernel-series 6.12), olddefconfig,
# modules_prepare, and that kernel's Module.symvers (the exported symbols
# and their CRCs, which only a full vmlinux build would make; modpost
# resolves gkm.ko's imports against it as it does for the headers). The
# headers packages are Debian's build output; this is the build from
# source that a packager or a distribution with its own kernel does
# (Documentation/packaging.rst, "Supported kernels"). The source may be a
# point release newer than the headers (6.12.118 against 6.12.117+deb12):
# olddefconfig settles the difference, and modpost checks the symbols.
#
# The prepared tree lives in $(GKM_CACHE)/source-build (never in the
# tree) and is reused while the tarball (size, mtime), the headers tree
# and its config (checksum) are unchanged, as a stamp file records.
# Preparing holds an exclusive flock, building against it a shared one, so
# parallel runs (several worktrees) neither prepare twice nor build
# against a half-prepared tree. The module is built in
# $(BUILD)/kmod/source-6.12 (a copy of the sources, as for
# GKM_KERNEL=SERIES).
SRCBUILD_TAR := /usr/src/linux-source-6.12.tar.xz
SRCBUILD_ROOT := $(GKM_CACHE)/source-build
SRCBUILD_KDIR := $(SRCBUILD_ROOT)/linux-source-6.12
SRCBUILD_MOD := $(BUILD)/kmod/source-6.12
SRCBUILD_JOBS ?= $(shell nproc)

source-build-check:
	@test -f $(SRCBUILD_TAR) || { echo "source-build-check: $(SRCBUILD_TAR) missing; run 'make deps'" >&2; exit 1; }
	@hdr=$$(mk/kernel-series 6.12); test -n "$$hdr" -a -f "$$hdr/.config" || \
		{ echo "source-build-check: no linux-headers-6.12.*-amd64 with a .config; run 'make deps'" >&2; exit 1; }
	@mkdir -p $(SRCBUILD_ROOT)
	flock $(SRCBUILD_ROOT)/.lock $(MAKE) --no-print-directory source-build-prepare
	@$(MAKE) --no-print-directory kmod-src KMOD_DIR=$(SRCBUILD_MOD) KDIR=$(SRCBUILD_KDIR)
	flock -s $(SRCBUILD_ROOT)/.lock $(MAKE) -C $(SRCBUILD_KDIR) M=$(abspath $(SRCBUILD_MOD)) \
		W=1 KCFLAGS=-Werror -j$(SRCBUILD_JOBS) modules
	@echo "source-build-check: gkm.ko built W=1 -Werror against" \
		"$$(cat $(SRCBUILD_KDIR)/include/config/kernel.release) (linux-source-6.12, Debian's config)"

# Under the exclusive lock: extract, configure and prepare unless the stamp
# says the tree is already prepared from this tarball and this config.
source-build-prepare:
	@hdr=$$(mk/kernel-series 6.12); \
	want="$$(stat -c '%s %Y' $(SRCBUILD_TAR)) $$hdr $$(sha256sum <$$hdr/.config | cut -c1-64)"; \
	if [ "$$(cat $(SRCBUILD_KDIR)/.gkm-prepared 2>/dev/null)" = "$$want" ]; then \
		echo "source-build-check: $(SRCBUILD_KDIR) already prepared"; exit 0; fi; \
	set -e; rm -rf $(SRCBUILD_KDIR) $(SRCBUILD_ROOT)/tmp; mkdir -p $(SRCBUILD_ROOT)/tmp; \
	echo "source-build-check: extracting $(SRCBUILD_TAR)"; \
	tar -C $(SRCBUILD_ROOT)/tmp -xJf $(SRCBUILD_TAR); \
	mv $(SRCBUILD_ROOT)/tmp/linux-source-6.12 $(SRCBUILD_KDIR); rmdir $(SRCBUILD_ROOT)/tmp; \
	echo "source-build-check: config of $$hdr, olddefconfig, modules_prepare"; \
	cp $$hdr/.config $(SRCBUILD_KDIR)/.config; \
	$(MAKE) -s -C $(SRCBUILD_KDIR) olddefconfig; \
	$(MAKE) -s -C $(SRCBUILD_KDIR) -j$(SRCBUILD_JOBS) modules_prepare; \
	cp $$hdr/Module.symvers $(SRCBUILD_KDIR)/Module.symvers; \
	echo "$$want" >$(SRCBUILD_KDIR)/.gkm-prepared

.PHONY: source-build-check source-build-prepare
