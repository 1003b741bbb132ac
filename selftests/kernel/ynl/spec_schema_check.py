#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Validate the YNL spec against the kernel's netlink schema, on the host.

    spec_schema_check.py YNL_DIR SPEC

YNL_DIR is tools/net/ynl of Debian's linux-source-6.12 (make ynl). The
spec is loaded by the kernel's own YNL library with the schema its
protocol names (genetlink-legacy.yaml), the validation every YNL tool
does before it uses a spec. The in-VM tests then load the spec without
the schema (cli.py --no-schema): the validation is static, and under TCG
it was about a third of every CLI start (selftests/kernel/ynl_test.c).
To show the check can fail, a copy of the spec with an attribute of a
type the schema does not have must be refused.
"""
import os
import sys
import tempfile

import yaml


def load(ynl, spec, schema):
    from lib import SpecFamily  # the kernel's YNL library
    SpecFamily(spec, schema)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    ynl, spec = sys.argv[1], sys.argv[2]
    sys.path.insert(0, ynl)
    schema = os.path.join(ynl, '..', '..', '..', 'Documentation', 'netlink',
                          'genetlink-legacy.yaml')
    try:
        load(ynl, spec, schema)
    except Exception as e:  # jsonschema.ValidationError and friends
        print(f'{spec}: refused by {os.path.basename(schema)}: {e}', file=sys.stderr)
        return 1

    with open(spec) as f:
        broken = yaml.safe_load(f)
    broken['attribute-sets'][0]['attributes'][0]['type'] = 'u33'
    with tempfile.NamedTemporaryFile('w', suffix='.yaml') as tmp:
        yaml.safe_dump(broken, tmp)
        tmp.flush()
        try:
            load(ynl, tmp.name, schema)
        except Exception:
            pass
        else:
            print(f'{spec}: a copy with an attribute of type u33 passed the '
                  'schema: the check cannot fail', file=sys.stderr)
            return 1
    print(f'{spec}: valid under {os.path.basename(schema)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
