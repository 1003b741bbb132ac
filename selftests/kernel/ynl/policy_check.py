#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the loaded gkm module's netlink contract with the YNL spec.

Asks the running kernel, through the kernel's own YNL library and its
nlctrl spec, for the gkm family (CTRL_CMD_GETFAMILY: operations, their
flags, multicast groups) and for its per-operation policies
(CTRL_CMD_GETPOLICY), and checks them against the spec
(Documentation/netlink/specs/gkm.yaml):

  - the kernel has exactly the spec's operations, each with do/dump as the
    spec says and the permission flag the spec names;
  - an operation with request attributes has a policy (for do and dump
    alike: the family is "kernel-policy: per-op"), whose attributes are
    exactly the spec's request attributes, with the spec's types and
    checks (min/max for integers, lengths for binaries; an integer
    without checks must accept its type's whole range); an operation
    without request attributes accepts none;
  - the multicast groups and the family version are the spec's.

Every difference is printed; the exit status is 1 if there was any.

    policy_check.py --ynl YNL_DIR --spec SPEC
"""
import argparse
import os
import sys

import yaml

INT_RANGE = {
    'u8': (0, 2**8 - 1), 'u16': (0, 2**16 - 1),
    'u32': (0, 2**32 - 1), 'u64': (0, 2**64 - 1),
    's8': (-2**7, 2**7 - 1), 's16': (-2**15, 2**15 - 1),
    's32': (-2**31, 2**31 - 1), 's64': (-2**63, 2**63 - 1),
}
# Spec attribute type -> what CTRL_CMD_GETPOLICY reports (nlctrl.yaml).
POLICY_TYPE = {t: t for t in INT_RANGE}
POLICY_TYPE.update({'binary': 'binary', 'string': 'nul-string',
                    'flag': 'flag', 'nest': 'nested'})


class Drift:
    def __init__(self):
        self.errors = []

    def __call__(self, msg):
        self.errors.append(msg)
        print('drift: ' + msg)


def spec_attrs(spec):
    """attribute-set name -> {attr name -> (value, attr)}"""
    sets = {}
    for s in spec['attribute-sets']:
        value, attrs = 1, {}
        for a in s['attributes']:
            value = a.get('value', value)
            attrs[a['name']] = (value, a)
            value += 1
        sets[s['name']] = attrs
    return sets


def spec_ops(spec):
    value, ops = 1, []
    for op in spec['operations']['list']:
        value = op.get('value', value)
        ops.append((value, op))
        value += 1
    return ops


def check_limit(drift, where, a, got, key, want):
    if got.get(key) != want:
        drift(f'{where}: {key} is {got.get(key)}, the spec says {want}')


def check_policy_attr(drift, where, a, got):
    t = a['type']
    if got.get('type') != POLICY_TYPE.get(t):
        drift(f"{where}: type {got.get('type')}, the spec says {t}")
        return
    checks = a.get('checks', {})
    if t in INT_RANGE:
        lo, hi = INT_RANGE[t]
        sfx = 's' if t.startswith('s') else 'u'
        check_limit(drift, where, a, got, f'min-value-{sfx}', checks.get('min', lo))
        check_limit(drift, where, a, got, f'max-value-{sfx}', checks.get('max', hi))
    elif t in ('binary', 'string'):
        if 'max-len' in checks or 'max-length' in got:
            check_limit(drift, where, a, got, 'max-length', checks.get('max-len'))
        if 'min-len' in checks or 'min-length' in got:
            check_limit(drift, where, a, got, 'min-length', checks.get('min-len'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ynl', required=True, help='tools/net/ynl of a kernel tree')
    ap.add_argument('--spec', required=True)
    args = ap.parse_args()

    sys.path.insert(0, args.ynl)
    from lib import YnlFamily  # the kernel's YNL library

    docs = os.path.join(args.ynl, '..', '..', '..', 'Documentation', 'netlink')
    with open(args.spec) as f:
        spec = yaml.safe_load(f)
    # The kernel's own nlctrl spec, not validated again (schema ''): the
    # validation is a third of this script's start under TCG.
    nlctrl = YnlFamily(os.path.join(docs, 'specs', 'nlctrl.yaml'), '')
    drift = Drift()
    sets = spec_attrs(spec)

    fam = nlctrl.do('getfamily', {'family-name': spec['name']})
    if fam.get('version') != spec.get('version', 1):
        drift(f"family version {fam.get('version')}, the spec says {spec.get('version', 1)}")
    kops = {}
    for entry in fam.get('ops', []):
        for o in entry.values():
            kops[o['id']] = set(o.get('flags', []))
    kgroups = sorted(g['name'] for e in fam.get('mcast-groups', []) for g in e.values())
    sgroups = sorted(g['name'] for g in spec.get('mcast-groups', {}).get('list', []))
    if kgroups != sgroups:
        drift(f'multicast groups {kgroups}, the spec says {sgroups}')

    policy = {}     # policy index -> {attr id -> attributes}
    op_policy = {}  # op id -> {'do': idx, 'dump': idx}
    for msg in nlctrl.dump('getpolicy', {'family-name': spec['name']}):
        if 'op-policy' in msg:
            p = dict(msg['op-policy'])
            op_policy[p.pop('op-id')] = p
        if 'policy' in msg:
            p = dict(msg['policy'])
            policy.setdefault(p.pop('policy-id'), {})[p.pop('attr-id')] = p

    checked = 0
    for value, op in spec_ops(spec):
        name = op['name']
        modes = [m for m in ('do', 'dump') if m in op]
        if not modes:
            if value in kops:
                drift(f'operation {name} ({value}): the kernel has it, the spec has no do/dump')
            continue
        if value not in kops:
            drift(f'operation {name} ({value}): missing from the kernel')
            continue
        flags = kops.pop(value)
        for m in ('do', 'dump'):
            if (f'cmd-cap-{m}' in flags) != (m in op):
                drift(f"operation {name}: {m} is {'there' if f'cmd-cap-{m}' in flags else 'missing'} "
                      f"in the kernel, {'in' if m in op else 'not in'} the spec")
        for perm in ('admin-perm', 'uns-admin-perm'):
            if (perm in flags) != (perm in op.get('flags', [])):
                drift(f'operation {name}: flag {perm} differs from the spec')
        aset = sets[op['attribute-set']]
        for m in modes:
            want = op[m].get('request', {}).get('attributes', [])
            idx = op_policy.get(value, {}).get(m)
            if not want:
                # The genl core gives an operation without a policy one
                # that rejects every attribute: nothing shows in its dump.
                if policy.get(idx):
                    drift(f'operation {name} {m}: the kernel accepts attributes '
                          f'{sorted(policy[idx])}, the spec none')
                continue
            if idx is None:
                drift(f'operation {name} {m}: no policy in the kernel')
                continue
            got = policy.get(idx, {})
            want_ids = {aset[a][0]: a for a in want}
            for attr_id in sorted(set(got) - set(want_ids)):
                drift(f'operation {name} {m}: the kernel accepts attribute {attr_id}, the spec does not')
            for attr_id, aname in sorted(want_ids.items()):
                if attr_id not in got:
                    drift(f'operation {name} {m}: the kernel refuses {aname} ({attr_id})')
                    continue
                check_policy_attr(drift, f'operation {name} {m} attribute {aname}',
                                  aset[aname][1], got[attr_id])
                checked += 1
    for value in sorted(kops):
        drift(f'operation {value}: in the kernel, not in the spec')

    if drift.errors:
        return 1
    print(f'{args.spec}: {len(spec_ops(spec))} operations, {checked} request '
          'attributes match the kernel\'s policies')
    return 0


if __name__ == '__main__':
    sys.exit(main())
