# SPDX-License-Identifier: GPL-2.0
# One version source: VERSION. The module and the programs take it at build
# time; dkms.conf and debian/changelog cannot (DKMS and dpkg read them as
# they are), so every build checks that they say the same and fails with
# what to change if not.

version-check:
	@v='$(GKM_VERSION)'; \
	d=$$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf); \
	c=$$(sed -n '1s/^gkm (\([^)]*\)).*/\1/p' debian/changelog); c=$${c%-*}; \
	case "$$v" in ''|*[!0-9A-Za-z.+~]*) \
		echo "version: VERSION '$$v' is not a version" >&2; exit 1;; esac; \
	[ "$$d" = "$$v" ] || { echo "version: dkms.conf says '$$d', VERSION says '$$v'" >&2; exit 1; }; \
	[ "$$c" = "$$v" ] || { echo "version: debian/changelog says '$$c', VERSION says '$$v' (dch -v $$v-1)" >&2; exit 1; }

.PHONY: version-check
