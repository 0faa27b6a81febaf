#!/usr/bin/env python3
"""Recomputes the worked examples of docs/SPEC.md section 5.7 from the text of the spec alone.

An outside check: this file imports nothing from runprint and shares no code with it. It reads the
field tables of SPEC 4.2-4.4 from the document itself, maps each example's request as section 4
says, serializes as section 3.4 says, digests as section 5 says, and compares every line of every
example block; given the folder testdata/providers, it also maps every request vector there.
Usage: python3 scripts/check-spec-examples.py [docs/SPEC.md [testdata/providers]]
"""
import hashlib
import json
import re
import sys

FORMATS = {
    'openai-chat': '4.2',
    'openai-responses': '4.3',
    'anthropic-messages': '4.4',
}
REQUEST_COMPONENTS = ['model', 'system', 'input', 'context', 'tools', 'parameters', 'configuration']
LISTS = {'system', 'input', 'context', 'tools'}


def sha256(*parts):
    return hashlib.sha256(b''.join(parts)).digest()


def tag(purpose):
    return ('runprint/v1/' + purpose).encode('ascii') + b'\x00'


# --- Section 3.4: JCS ---------------------------------------------------------------------------

def jcs_string(text):
    out = '"'
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out += '\\"'
        elif ch == '\\':
            out += '\\\\'
        elif code < 0x20:
            short = {0x08: '\\b', 0x09: '\\t', 0x0A: '\\n', 0x0C: '\\f', 0x0D: '\\r'}
            out += short.get(code, '\\u%04x' % code)
        else:
            out += ch
    return out + '"'


def jcs_number(x):
    if isinstance(x, bool):
        raise TypeError('not a number')
    x = float(x)
    assert abs(x) < 2 ** 53 or x != int(x), 'unsafe integer (3.2)'
    if x == 0:
        return '0'
    if x < 0:
        return '-' + jcs_number(-x)
    # Shortest round-trip digits (Python's repr), then the layout rules of 3.4 step 3-6.
    mantissa, _, exponent = repr(x).partition('e')
    whole, _, fraction = mantissa.partition('.')
    digits = (whole + fraction).lstrip('0')
    n = len(whole.lstrip('0')) + (int(exponent) if exponent else 0)
    if not whole.lstrip('0'):
        n = -(len(fraction) - len(fraction.lstrip('0'))) + (int(exponent) if exponent else 0)
    digits = digits.rstrip('0')
    k = len(digits)
    if k <= n <= 21:
        return digits + '0' * (n - k)
    if 0 < n <= 21:
        return digits[:n] + '.' + digits[n:]
    if -6 < n <= 0:
        return '0.' + '0' * (-n) + digits
    sign = '+' if n - 1 >= 0 else '-'
    return digits[0] + ('.' + digits[1:] if k > 1 else '') + 'e' + sign + str(abs(n - 1))


def jcs(value):
    if value is None:
        return 'null'
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    if isinstance(value, str):
        return jcs_string(value)
    if isinstance(value, (int, float)):
        return jcs_number(value)
    if isinstance(value, list):
        return '[' + ','.join(jcs(v) for v in value) + ']'
    names = sorted(value, key=lambda name: name.encode('utf-16-be'))
    return '{' + ','.join(jcs_string(name) + ':' + jcs(value[name]) for name in names) + '}'


# --- Section 4: the mapping, with the field tables read from the document -----------------------

def field_tables(spec):
    tables = {}
    for fmt, number in FORMATS.items():
        start = spec.index('### %s ' % number)
        end = spec.index('\n### ', start + 1)
        rows = re.findall(r'^\| `([a-z_]+)` \| ([a-z: +]+) \|', spec[start:end], re.M)
        tables[fmt] = {name: where for name, where in rows}
    return tables


class Rejected(Exception):
    """ERR_PROVIDER_INVALID_REQUEST at a path (SPEC 4.1.6)."""

    def __init__(self, *path):
        super().__init__(path)
        self.path = '$' + ''.join('[%d]' % p if isinstance(p, int) else "['%s']" % p for p in path)


def lifts(field, value, allow_string, allow_array=True):
    """4.1.4: the list a field lifts to, None when it stays in configuration (null, []), or Rejected."""
    if value is None:
        return None
    if allow_string and isinstance(value, str):
        return [value]
    if not allow_array or not isinstance(value, list):
        raise Rejected(field)
    if not value:
        return None
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            raise Rejected(field, index)
    return value


# The lifted fields of each API, in the order 4.1.6 checks them: (field, a string lifts, an array lifts).
LIFTED = {
    'openai-chat': [('messages', False, True), ('tools', False, True)],
    'openai-responses': [('instructions', True, False), ('input', True, True), ('tools', False, True)],
    'anthropic-messages': [('system', True, True), ('messages', False, True), ('tools', False, True)],
}


def map_request(fmt, request, table):
    if not isinstance(request, dict):
        raise Rejected()
    if not isinstance(request.get('model'), str) or request['model'] == '':
        raise Rejected('model')
    composition = {'version': 'runprint/v1', 'model': {'api': fmt, 'name': request['model']},
                   'system': [], 'input': [], 'context': [], 'tools': [],
                   'parameters': {}, 'configuration': {}}
    excluded = {}
    consumed = {'model'}
    for field, allow_string, allow_array in LIFTED[fmt]:
        if field not in request:
            continue
        items = lifts(field, request[field], allow_string, allow_array)
        if items is None:
            continue
        consumed.add(field)
        if fmt == 'openai-chat' and field == 'messages':
            split = 0
            while split < len(items) and items[split].get('role') in ('system', 'developer'):
                split += 1
            composition['system'], composition['input'] = items[:split], items[split:]
        elif field in ('instructions', 'system'):
            composition['system'] = items
        elif field in ('input', 'messages'):
            composition['input'] = items
        else:
            composition['tools'] = items
    for name, value in request.items():
        if name in consumed:
            continue
        where = table.get(name, 'configuration')
        if where == 'excluded':
            excluded[name] = value
        elif where == 'parameters':
            composition['parameters'][name] = value
        else:
            composition['configuration'][name] = value
    if excluded:
        composition['excluded'] = excluded
    return composition


def check_provider_vectors(folder, tables):
    """Every request vector of testdata/providers against this mapping: composition, or error path."""
    checked = failed = 0
    for name in ('common-rules', 'openai-chat', 'openai-responses', 'anthropic-messages'):
        with open('%s/%s.json' % (folder, name), encoding='utf-8') as handle:
            vectors = json.load(handle)['vectors']
        for vector in vectors:
            checked += 1
            try:
                got = {'wantComposition': map_request(vector['format'], vector['request'], tables[vector['format']])}
            except Rejected as error:
                got = {'wantErr': 'ERR_PROVIDER_INVALID_REQUEST', 'wantPath': error.path}
            want = {key: vector[key] for key in ('wantComposition', 'wantErr', 'wantPath') if key in vector}
            if got != want:
                failed += 1
                print('%s.json, %s: the vector says %r, recomputed %r' % (name, vector['desc'], want, got))
    return checked, failed


# --- Section 5: digests --------------------------------------------------------------------------

def mth(leaves):
    if not leaves:
        return sha256()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return sha256(b'\x01', mth(leaves[:k]), mth(leaves[k:]))


def compute(block, tables):
    fmt = block['format']
    request = json.loads(block['request'])
    composition = map_request(fmt, request, tables[fmt])
    got = {'format': fmt, 'request': block['request'], 'composition': jcs(composition)}
    salts = json.loads(block['salts']) if 'salts' in block else {}
    if salts:
        got['salts'] = block['salts']
    digests = []
    for name in REQUEST_COMPONENTS:
        value = composition[name]
        salt = bytes.fromhex(salts[name]) if name in salts else None
        if name in LISTS:
            leaves = []
            for i, element in enumerate(value):
                canonical = jcs(element).encode('utf-8')
                got['%s[%d].jcs' % (name, i)] = jcs(element)
                if salt is None:
                    leaf = sha256(b'\x00', tag('element'), canonical)
                else:
                    s_i = sha256(tag('salt'), salt, i.to_bytes(8, 'big'))
                    got['%s[%d].salt' % (name, i)] = s_i.hex()
                    leaf = sha256(b'\x00', tag('salted-element'), s_i, canonical)
                got['%s[%d].digest' % (name, i)] = leaf.hex()
                leaves.append(leaf)
            if len(leaves) == 3:
                got['%s.node[0:2]' % name] = sha256(b'\x01', leaves[0], leaves[1]).hex()
            root = mth(leaves)
            got[name + '.root'] = root.hex()
            digest = sha256(tag('component/' + name), len(leaves).to_bytes(8, 'big'), root)
        else:
            got[name + '.jcs'] = jcs(value)
            canonical = jcs(value).encode('utf-8')
            if salt is None:
                digest = sha256(tag('component/' + name), canonical)
            else:
                digest = sha256(tag('salted-component/' + name), salt, canonical)
        got[name + '.digest'] = digest.hex()
        digests.append(digest)
    request_digest = sha256(tag('request'), *digests)
    got['requestDigest'] = request_digest.hex()
    got['requestId'] = 'rp-req-v1-sha256-' + request_digest.hex()
    if 'served' in block:
        served = json.loads(block['served'])
        got['served'] = jcs(served)
        served_digest = sha256(tag('component/served'), jcs(served).encode('utf-8'))
        got['served.digest'] = served_digest.hex()
        run_digest = sha256(tag('run'), request_digest, served_digest)
        got['runDigest'] = run_digest.hex()
        got['runId'] = 'rp-run-v1-sha256-' + run_digest.hex()
    return got


def example_blocks(spec):
    for body in re.findall(r'```text\n(format .*?)\n```', spec, re.S):
        block = {}
        for line in body.split('\n'):
            name, value = re.match(r'(\S+)\s+(.*)$', line).groups()
            block[name] = value
        yield block


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else 'docs/SPEC.md'
    with open(path, encoding='utf-8') as handle:
        spec = handle.read()
    tables = field_tables(spec)
    checked = failed = number = 0
    for number, block in enumerate(example_blocks(spec), 1):
        got = compute(block, tables)
        for name in sorted(set(block) | set(got)):
            checked += 1
            if block.get(name) != got.get(name):
                failed += 1
                print('example %d, %s: the spec says %r, recomputed %r' % (number, name, block.get(name), got.get(name)))
    print('%d examples, %d values checked, %d differ' % (number, checked, failed))
    bad = failed or number < 4
    if len(sys.argv) > 2:
        vectors, differ = check_provider_vectors(sys.argv[2], tables)
        print('%d provider mapping vectors, %d differ' % (vectors, differ))
        bad = bad or differ or vectors < 60
    sys.exit(1 if bad else 0)


if __name__ == '__main__':
    main()
