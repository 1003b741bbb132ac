# SPDX-License-Identifier: GPL-2.0
# `make deps`: install exactly the Debian packages gkm needs (idempotent).

# The kernels gkm is tested on (Documentation/packaging.rst, "Supported
# kernels"): Debian 12's own 6.1 (linux-headers-amd64), bookworm's 6.12 and
# its PREEMPT_RT flavour (the series meta packages follow the newest point
# release); dwarves brings pahole for 6.12's BTF step. Headers only: the VM
# harness unpacks a kernel image that is not installed from its .deb into
# the cache (selftests/cross/kimage). (6.12's headers depend on their image,
# so apt installs those two anyway; 6.1's image and its initramfs, about
# 80 s of a fresh machine's make deps, are saved.)
KERNEL_PACKAGES := linux-headers-amd64 linux-headers-6.12-amd64 \
	linux-headers-6.12-rt-amd64 dwarves

# flex, bison, bc, libelf-dev: configuring and preparing linux-source-6.12
# for make source-build-check (mk/source-build.mk).
# python3-docutils: the doc-rst step (selftests/doc-rst-check) parses
# Documentation/*.rst with it.
DEB_PACKAGES := gcc make pkg-config libc6-dev clang sparse \
	$(KERNEL_PACKAGES) linux-source-6.1 dkms kmod \
	qemu-system-x86 seabios busybox-static cpio xz-utils \
	libmnl-dev libjson-c-dev libssl-dev libsqlite3-dev libinih-dev libcurl4-openssl-dev openssl keyutils iproute2 nftables \
	etcd-server etcd-client \
	python3 python3-yaml python3-jsonschema python3-docutils linux-source-6.12 flex bison bc libelf-dev \
	dpkg-dev debhelper dh-dkms lintian tshark \
	gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf gcc-s390x-linux-gnu \
	qemu-system-arm qemu-user

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -z "$$missing" ]; then echo "deps: all Debian packages present"; exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "deps: missing Debian packages: $$missing" >&2; \
		echo "deps: run 'make deps' as root (it uses apt-get)" >&2; exit 1; \
	fi; \
	echo "deps: installing $$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get -o DPkg::Lock::Timeout=900 update -q && \
	apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends $$missing

# The kselftest harness and checkpatch come from Debian's linux-source-6.1,
# extracted once into $(GKM_CACHE) (never into the tree).
ksft: $(KSFT_DIR)/kselftest_harness.h

$(KSFT_DIR)/kselftest_harness.h $(CHECKPATCH):
	@test -f $(LINUX_SOURCE_TAR) || { echo "ksft: $(LINUX_SOURCE_TAR) missing; run 'make deps'" >&2; exit 1; }
	@mkdir -p $(GKM_CACHE)
	tar -C $(GKM_CACHE) -xJf $(LINUX_SOURCE_TAR) \
		linux-source-6.1/tools/testing/selftests/kselftest_harness.h \
		linux-source-6.1/tools/testing/selftests/kselftest.h \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	@touch $(KSFT_DIR)/kselftest_harness.h $(CHECKPATCH)

# The kernel's YNL library and CLI (tools/net/ynl) with the netlink spec
# schemas and the nlctrl spec, from Debian's linux-source-6.12, extracted
# once into $(GKM_CACHE) like the kselftest harness: the netlink contract
# tests drive the gkm family with them (selftests/kernel/ynl_test.c). The
# test guest does not see the cache (its /root is a tmpfs), so the tests
# use a copy in $(BUILD)/ynl.
ynl: $(BUILD)/ynl/tools/net/ynl/cli.py

$(BUILD)/ynl/tools/net/ynl/cli.py: $(YNL_DIR)/cli.py
	rm -rf $(BUILD)/ynl
	mkdir -p $(BUILD)/ynl
	cp -a $(YNL_DIR)/../../../tools $(YNL_DIR)/../../../Documentation $(BUILD)/ynl/
	@touch $@

$(YNL_DIR)/cli.py:
	@test -f $(YNL_SOURCE_TAR) || { echo "ynl: $(YNL_SOURCE_TAR) missing; run 'make deps'" >&2; exit 1; }
	@mkdir -p $(GKM_CACHE)
	tar -C $(GKM_CACHE) -xJf $(YNL_SOURCE_TAR) \
		linux-source-6.12/tools/net/ynl/cli.py \
		linux-source-6.12/tools/net/ynl/lib/__init__.py \
		linux-source-6.12/tools/net/ynl/lib/nlspec.py \
		linux-source-6.12/tools/net/ynl/lib/ynl.py \
		linux-source-6.12/Documentation/netlink/genetlink-legacy.yaml \
		linux-source-6.12/Documentation/netlink/specs/nlctrl.yaml
	@touch $@
