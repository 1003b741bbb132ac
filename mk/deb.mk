# SPDX-License-Identifier: GPL-2.0
# `make deb`: the Debian packages gkm and gkm-dkms (debian/), built by
# dpkg-buildpackage from a clean copy of the tree (tracked files and
# untracked ones that are not ignored) in $(BUILD)/deb/src, then checked by
# lintian. The .deb, .changes and .buildinfo files land in $(BUILD)/deb.
# The install test is selftests/pkg/run (Documentation/packaging.rst).

DEB_DIR := $(BUILD)/deb

deb:
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src
	git ls-files -z --cached --others --exclude-standard | \
		xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh | \
		xargs -0 cp -a --parents -t $(DEB_DIR)/src
	cd $(DEB_DIR)/src && dpkg-buildpackage -us -uc -b
	lintian --allow-root -I $(DEB_DIR)/*.changes
	@ls -1 $(DEB_DIR)/*.deb

.PHONY: deb
