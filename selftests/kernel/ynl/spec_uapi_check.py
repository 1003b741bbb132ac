#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Check that uapi/linux/gkm.h says what the YNL spec says.

The spec (Documentation/netlink/specs/gkm.yaml) is the netlink contract;
the hand-written uapi header must give every command, attribute, enum
entry, flag and constant of the spec the name and value the spec gives it,
with the naming rules of the kernel's YNL code generator (name-prefix +
name, upper case, '-' -> '_'; values counted from value-start, from 1 for
attributes, from the previous entry's value + 1). The check writes a small
C program from the spec, compiles it against the header and runs it: any
difference is printed and the exit status is 1. Entries appended to the
header but not to the spec are caught through the *_MAX names.

    spec_uapi_check.py SPEC UAPI_DIR WORK_DIR [CC]
"""
import os
import subprocess
import sys

import yaml


def c_upper(name):
    return name.upper().replace('-', '_')


class Checks:
    def __init__(self, family):
        self.family = family
        self.lines = []
        self.headers = set()
        self.enum_types = set()

    def int_eq(self, cname, value, what):
        self.lines.append(
            f'\tfails += check_int("{cname}", (long long)({cname}), {int(value)}LL, "{what}");')

    def str_eq(self, cname, value, what):
        self.lines.append(
            f'\tfails += check_str("{cname}", {cname}, "{value}", "{what}");')

    def program(self):
        out = ['#include <stdio.h>', '#include <string.h>']
        out += [f'#include <{h}>' for h in sorted(self.headers)]
        out += ['''
static int check_int(const char *name, long long got, long long want, const char *what)
{
	if (got == want)
		return 0;
	printf("spec/uapi drift: %s is %lld in the header, the spec (%s) says %lld\\n",
	       name, got, what, want);
	return 1;
}

static int check_str(const char *name, const char *got, const char *want, const char *what)
{
	if (!strcmp(got, want))
		return 0;
	printf("spec/uapi drift: %s is \\"%s\\" in the header, the spec (%s) says \\"%s\\"\\n",
	       name, got, what, want);
	return 1;
}
''']
        for t in sorted(self.enum_types):
            out.append(f'static enum {t} *enum_{t}_exists __attribute__((unused));')
        out.append('\nint main(void)\n{\n\tint fails = 0;\n')
        out += self.lines
        out.append('\treturn fails != 0;\n}\n')
        return '\n'.join(out)


def check_definitions(spec, ck):
    fam = spec['name']
    for d in spec.get('definitions', []):
        what = f"definitions/{d['name']}"
        if 'header' in d:
            ck.headers.add(d['header'])
        if d['type'] == 'const':
            cname = c_upper(d.get('name-prefix', fam + '-') + d['name'])
            if isinstance(d['value'], str):
                ck.str_eq(cname, d['value'], what)
            else:
                ck.int_eq(cname, d['value'], what)
            continue
        if d['type'] not in ('enum', 'flags'):
            continue
        prefix = d.get('name-prefix', f"{fam}-{d['name']}-")
        if d.get('enum-name'):
            ck.enum_types.add(d['enum-name'])
        value = d.get('value-start', 0)
        for e in d['entries']:
            e = e if isinstance(e, dict) else {'name': e}
            value = e.get('value', value)
            want = 1 << value if d['type'] == 'flags' else value
            ck.int_eq(c_upper(prefix + e['name']), want, what)
            value += 1


def check_attribute_sets(spec, ck):
    fam = spec['name']
    for s in spec['attribute-sets']:
        what = f"attribute-sets/{s['name']}"
        prefix = s.get('name-prefix', f"{fam}-{s['name']}-a-")
        if s.get('enum-name'):
            ck.enum_types.add(s['enum-name'])
        value = 1
        for a in s['attributes']:
            value = a.get('value', value)
            ck.int_eq(c_upper(prefix + a['name']), value, what)
            last = value
            value += 1
        if 'attr-cnt-name' in s:
            ck.int_eq(c_upper(s['attr-cnt-name']), last + 1, what)
        if 'attr-max-name' in s:
            ck.int_eq(c_upper(s['attr-max-name']), last, what)


def check_operations(spec, ck):
    ops = spec['operations']
    prefix = ops.get('name-prefix', spec['name'] + '-cmd-')
    if ops.get('enum-name'):
        ck.enum_types.add(ops['enum-name'])
    value = 1
    for op in ops['list']:
        value = op.get('value', value)
        ck.int_eq(c_upper(prefix + op['name']), value, 'operations')
        last = value
        value += 1
    ck.int_eq(c_upper(prefix + 'max'), last, 'operations')


def check_family(spec, ck):
    ck.str_eq(c_upper(spec['c-family-name']), spec['name'], 'name')
    ck.int_eq(c_upper(spec['c-version-name']), spec.get('version', 1), 'version')
    for g in spec.get('mcast-groups', {}).get('list', []):
        cname = c_upper(g.get('c-define-name',
                              f"{spec['name']}-mcgrp-{g['name']}"))
        ck.str_eq(cname, g['name'], 'mcast-groups')


def check(spec, uapi, work, cc, quiet=False):
    """0 when the header matches @spec, 1 otherwise."""
    ck = Checks(spec['name'])
    ck.headers.add(spec.get('uapi-header', f"linux/{spec['name']}.h"))
    check_family(spec, ck)
    check_definitions(spec, ck)
    check_attribute_sets(spec, ck)
    check_operations(spec, ck)

    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, 'spec_uapi.c')
    exe = os.path.join(work, 'spec_uapi')
    with open(src, 'w') as f:
        f.write(ck.program())
    out = subprocess.DEVNULL if quiet else None
    r = subprocess.run([cc, '-std=c11', '-Wall', '-Werror', '-I', uapi,
                        '-o', exe, src], stdout=out, stderr=out)
    if r.returncode:
        if not quiet:
            print(f'spec/uapi drift: {src} does not compile against {uapi} '
                  '(a name of the spec is missing from the header?)')
        return 1
    r = subprocess.run([exe], stdout=out)
    if r.returncode == 0 and not quiet:
        print(f'spec and {uapi}: {len(ck.lines)} names and values match')
    return 1 if r.returncode else 0


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    spec_path, uapi, work = sys.argv[1:4]
    cc = sys.argv[4] if len(sys.argv) > 4 else 'cc'
    with open(spec_path) as f:
        spec = yaml.safe_load(f)
    if check(spec, uapi, work, cc):
        return 1
    # The check must be able to fail: a spec with one attribute inserted
    # (every later value shifts) must not match the same header.
    with open(spec_path) as f:
        drifted = yaml.safe_load(f)
    drifted['attribute-sets'][0]['attributes'].insert(
        2, {'name': 'abi-version', 'type': 'u32'})
    if not check(drifted, uapi, work, cc, quiet=True):
        print('spec_uapi_check: a drifted spec passed the check')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
