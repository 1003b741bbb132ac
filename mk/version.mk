# SPDX-License-Identifier: GPL-2.0
# One version source: VERSION. The module, the programs and the tests take
# it at build time; dkms.conf, debian/changelog and the manual pages' .TH
# lines cannot (DKMS, dpkg and dh_installman take them as they are), so
# every build checks that they say the same and fails with what to change
# if not.

version-check:
	@v='$(GKM_VERSION)'; \
	d=$$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf); \
	c=$$(sed -n '1s/^gkm (\([^)]*\)).*/\1/p' debian/changelog); c=$${c%-*}; \
	case "$$v" in ''|*[!0-9A-Za-z.+~]*) \
		echo "version: VERSION '$$v' is not a version" >&2; exit 1;; esac; \
	[ "$$d" = "$$v" ] || { echo "version: dkms.conf says '$$d', VERSION says '$$v'" >&2; exit 1; }; \
	[ "$$c" = "$$v" ] || { echo "version: debian/changelog says '$$c', VERSION says '$$v' (dch -v $$v-1)" >&2; exit 1; }; \
	for m in $(wildcard Documentation/man/*.[1-8]); do \
		t=$$(sed -n '1s/^\.TH [^ ]* [^ ]* "[^"]*" "\([^"]*\)".*/\1/p' $$m); \
		[ "$$t" = "gkm $$v" ] || { echo "version: $$m's .TH says '$$t', VERSION says '$$v' (\"gkm $$v\")" >&2; exit 1; }; \
	done

.PHONY: version-check
