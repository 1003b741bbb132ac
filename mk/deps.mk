# SPDX-License-Identifier: GPL-2.0
# `make deps`: install exactly the Debian packages gkm needs (idempotent).

DEB_PACKAGES := gcc make pkg-config libc6-dev clang sparse \
	linux-headers-amd64 linux-image-amd64 linux-source-6.1 dkms kmod \
	qemu-system-x86 seabios busybox-static cpio xz-utils \
	libmnl-dev libjson-c-dev libssl-dev libsqlite3-dev libinih-dev openssl keyutils iproute2 nftables \
	python3 \
	dpkg-dev debhelper dh-dkms lintian tshark

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
	apt-get update -q && apt-get install -y -q --no-install-recommends $$missing

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
