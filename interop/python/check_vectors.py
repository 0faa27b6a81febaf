#!/usr/bin/env python3
"""An independent implementation of AI Run Identity v1 (docs/SPEC.md sections 3, 5, 6) in Python.

Also the Anthropic Messages request mapping (4.1, 4.4) with the members sent as headers (4.8),
salted commitments (SPEC 5.6), RFC 9162 inclusion proofs, the subject rules and digest checks of a
receipt (docs/RECEIPTS.md 13.1, 13.2, 15 steps 6 and 10) and of selective disclosure (17).

It shares no code with runprint: it is written from the spec alone, using only the Python standard
library, and checks itself against the vectors in testdata/. If it and runprint ever disagree, the
spec is ambiguous or one of them is wrong.

Usage: python3 interop/python/check_vectors.py [TESTDATA_DIR]
"""
import base64
import decimal
import hashlib
import json
import math
import os
import re
import struct
import sys

MAX_SAFE = 2**53 - 1
MAX_DEPTH = 128
DISCLOSURE_MAX_DEPTH = MAX_DEPTH + 2


class Rejected(Exception):
    pass


# ---- Section 3: strict I-JSON input -------------------------------------------------------------

def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise Rejected("ERR_JSON_DUPLICATE_KEY")
        out[key] = value
    return out


def _constant(name):
    raise Rejected("ERR_JSON_SYNTAX")  # NaN, Infinity are not JSON


def _check(value, depth, max_depth=MAX_DEPTH):
    if isinstance(value, (dict, list)):
        depth += 1
        if depth > max_depth:
            raise Rejected("ERR_JSON_TOO_DEEP")
    if isinstance(value, dict):
        for key, member in value.items():
            _check_string(key)
            _check(member, depth, max_depth)
    elif isinstance(value, list):
        for member in value:
            _check(member, depth, max_depth)
    elif isinstance(value, str):
        _check_string(value)
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE:
            raise Rejected("ERR_JSON_UNSAFE_INTEGER")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Rejected("ERR_JSON_NON_FINITE")
        if value == int(value) and abs(value) > MAX_SAFE:
            raise Rejected("ERR_JSON_UNSAFE_INTEGER")


def _check_string(text):
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise Rejected("ERR_JSON_LONE_SURROGATE")


def parse(data, max_depth=MAX_DEPTH):
    if data.startswith(b"\xef\xbb\xbf"):
        raise Rejected("ERR_JSON_BOM")
    try:
        text = data.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise Rejected("ERR_JSON_INVALID_UTF8")
    try:
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
    except RecursionError:
        raise Rejected("ERR_JSON_TOO_DEEP")
    except ValueError:
        raise Rejected("ERR_JSON_SYNTAX")
    _check(value, 0, max_depth)
    return value


# ---- Section 3.4: RFC 8785 serialization ---------------------------------------------------------

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text):
    out = ['"']
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append("\\u%04x" % ord(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _number(value):
    """ECMAScript Number::toString, from the shortest round-trip digits Python's repr gives."""
    if value == 0:
        return "0"
    if isinstance(value, int):
        return str(value)
    sign = "-" if value < 0 else ""
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).lstrip("0")
    stripped = digits.rstrip("0")
    exponent += len(digits) - len(stripped)
    digits = stripped
    k = len(digits)
    n = k + exponent  # value = 0.digits * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    head = digits[0] + ("." + digits[1:] if k > 1 else "")
    return sign + head + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def canonical(value):
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ",".join(canonical(member) for member in value) + "]"
    keys = sorted(value.keys(), key=lambda key: key.encode("utf-16-be"))
    return "{" + ",".join(_string(key) + ":" + canonical(value[key]) for key in keys) + "}"


# ---- Section 5: digests --------------------------------------------------------------------------

def sha256(*parts):
    hash = hashlib.sha256()
    for part in parts:
        hash.update(part)
    return hash.digest()


def tag(purpose):
    return ("runprint/v1/" + purpose).encode("ascii") + b"\x00"


def mth(leaf_hashes):
    """RFC 6962 Merkle Tree Hash over leaves whose leaf hashes (0x00-prefixed) are given."""
    if not leaf_hashes:
        return sha256()
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    return sha256(b"\x01", mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


LISTS = ("system", "input", "context", "tools")
ORDER = ("model", "system", "input", "context", "tools", "parameters", "configuration")


def element_salt(salt, index):
    """SPEC 5.6: s_i = SHA-256(tag("salt") || S || uint64be(i))."""
    return sha256(tag("salt"), salt, struct.pack(">Q", index))


def element_digest(element, salt=None):
    """SPEC 5.2, or 5.6 with the element's own salt s_i: an RFC 6962 leaf hash either way."""
    if salt is None:
        return sha256(b"\x00", tag("element"), canonical(element).encode("utf-8"))
    return sha256(b"\x00", tag("salted-element"), salt, canonical(element).encode("utf-8"))


def list_digest(name, elements):
    return sha256(tag("component/" + name), struct.pack(">Q", len(elements)), mth(elements))


def value_digest(name, value, salt=None):
    """SPEC 5.4, or 5.6: SHA-256(tag("salted-component/" || name) || S || JCS(value))."""
    if salt is None:
        return sha256(tag("component/" + name), canonical(value).encode("utf-8"))
    return sha256(tag("salted-component/" + name), salt, canonical(value).encode("utf-8"))


def identity(composition):
    _check(composition, 0)
    salts = {name: bytes.fromhex(salt) for name, salt in composition.get("salts", {}).items()}
    components = {}
    digests = []
    for name in ORDER:
        value = composition[name]
        salt = salts.get(name)
        if name in LISTS:
            elements = [element_digest(e, None if salt is None else element_salt(salt, i)) for i, e in enumerate(value)]
            root = mth(elements)
            digest = list_digest(name, elements)
            components[name] = {"kind": "list", "digest": {"sha256": digest.hex()}, "count": len(value),
                                "root": {"sha256": root.hex()},
                                "elements": [{"sha256": e.hex()} for e in elements]}
        else:
            digest = value_digest(name, value, salt)
            components[name] = {"kind": "value", "digest": {"sha256": digest.hex()}}
        if salt is not None:
            components[name]["salted"] = True
        digests.append(digest)
    request = sha256(tag("request"), *digests)
    run_id = None
    if "served" in composition:
        served = sha256(tag("component/served"), canonical(composition["served"]).encode("utf-8"))
        run_id = "rp-run-v1-sha256-" + sha256(tag("run"), request, served).hex()
    return "rp-req-v1-sha256-" + request.hex(), run_id, components


# ---- Section 4.4: Anthropic Messages requests, and 4.8: members sent as headers ------------------

class RequestRejected(Exception):
    """ERR_PROVIDER_INVALID_REQUEST at a path (SPEC 4.1.6)."""

    def __init__(self, path):
        super().__init__(path)
        self.path = path


ANTHROPIC_PARAMETERS = ("max_tokens", "stop_sequences", "temperature", "thinking", "top_k", "top_p")
ANTHROPIC_EXCLUDED = ("cache_control", "metadata", "stream", "user_profile_id")


def _objects(value, path):
    """A non-empty array of objects lifts (True); null or [] stays (False); else rejected (4.1.4)."""
    if value is None or value == []:
        return False
    if not isinstance(value, list):
        raise RequestRejected(path)
    for index, element in enumerate(value):
        if not isinstance(element, dict):
            raise RequestRejected("%s[%d]" % (path, index))
    return True


def anthropic_composition(request):
    """SPEC 4.1 and 4.4: an Anthropic Messages request body -> its composition."""
    if not isinstance(request, dict):
        raise RequestRejected("$")
    model = request.get("model")
    if not isinstance(model, str) or model == "":
        raise RequestRejected("$['model']")
    lifted = {"system": [], "input": [], "tools": []}
    kept = set()
    if "system" in request:
        value = request["system"]
        if isinstance(value, str):
            lifted["system"] = [value]
        elif _objects(value, "$['system']"):
            lifted["system"] = list(value)
        else:
            kept.add("system")
    for field, component in (("messages", "input"), ("tools", "tools")):
        if field in request:
            if _objects(request[field], "$['%s']" % field):
                lifted[component] = list(request[field])
            else:
                kept.add(field)
    parameters, configuration, excluded = {}, {}, {}
    for name, value in request.items():
        if name == "model" or (name in ("system", "messages", "tools") and name not in kept):
            continue
        if name in ANTHROPIC_PARAMETERS:
            parameters[name] = value
        elif name in ANTHROPIC_EXCLUDED:
            excluded[name] = value
        else:
            configuration[name] = value
    composition = {"version": "runprint/v1", "model": {"api": "anthropic-messages", "name": model},
                   "system": lifted["system"], "input": lifted["input"], "context": [], "tools": lifted["tools"],
                   "parameters": parameters, "configuration": configuration}
    if excluded:
        composition["excluded"] = excluded
    return composition


def header_lines(lines, name):
    """The values of one header's lines, in the order received (names compare without case, RFC 9110 5.1)."""
    return [value for field, value in lines if field.lower() == name]


def header_readable(values):
    """SPEC 4.8 step 1: every byte of every line is printable ASCII (20 to 7E) or tab (09). A vector
    spells a value's bytes as characters U+0000 to U+00FF, one per byte."""
    return all(ord(char) == 0x09 or 0x20 <= ord(char) <= 0x7E for value in values for char in value)


def header_list(values):
    """SPEC 4.8 step 2: the lines joined with commas in the order received, split at every comma,
    each part trimmed of spaces and tabs, empty parts dropped."""
    parts = (part.strip(" \t") for part in ",".join(values).split(","))
    return [part for part in parts if part != ""]


def with_header_members(fmt, body, lines):
    """SPEC 4.8: the body with the members its headers carry (Anthropic's betas). Order of checks: a
    body that is not an object gets no member (4.1.1 rejects it at $); then step 1 (a byte outside
    printable ASCII and tab); then step 4 (betas in the body and a non-empty list); the mapping last."""
    if fmt != "anthropic-messages":
        return body
    if not isinstance(body, dict):
        return body
    values = header_lines(lines, "anthropic-beta")
    if not header_readable(values):
        raise RequestRejected("$['betas']")
    betas = header_list(values)
    if not betas:
        return body
    if "betas" in body:
        raise RequestRejected("$['betas']")
    return dict(body, betas=betas)


# ---- RFC 9162 section 2.1.3.2: verifying an inclusion proof --------------------------------------

def verify_inclusion(leaf_hash, index, size, proof, root_hash):
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01", p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = sha256(b"\x01", r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


# ---- SPEC 16: the digest checks of a disclosure against a receipt predicate -----------------------

def predicate_mismatch(predicate):
    """SPEC 13.2 and 15 step 10: None when the predicate's digests add up to its identity, else what fails.

    The element digests must give the stated root (the inclusion proofs of a disclosure are checked
    against that root, so a root that is not recomputed would let a made-up element through), count
    and root the component digest, the seven component digests the requestId, the served facts the
    served digest, and request and served digests the runId.
    """
    descriptors = {}
    for descriptor in predicate["buildDefinition"]["resolvedDependencies"]:
        descriptors.setdefault(descriptor["name"], descriptor)
    for name in LISTS:
        notes = descriptors[name]["annotations"]
        leaves = [bytes.fromhex(e["sha256"]) for e in notes["elements"]]
        if mth(leaves).hex() != notes["root"]["sha256"]:
            return 'component "%s": element digests do not give its root' % name
        root = bytes.fromhex(notes["root"]["sha256"])
        digest = sha256(tag("component/" + name), struct.pack(">Q", notes["count"]), root)
        if digest.hex() != descriptors[name]["digest"]["sha256"]:
            return 'component "%s": count and root do not give its digest' % name
    digests = [bytes.fromhex(descriptors[name]["digest"]["sha256"]) for name in ORDER]
    request = sha256(tag("request"), *digests)
    external = predicate["buildDefinition"]["externalParameters"]
    if "rp-req-v1-sha256-" + request.hex() != external["requestId"]:
        return "component digests do not give the requestId"
    served = value_digest("served", predicate["runDetails"]["served"])
    if served.hex() != descriptors["served"]["digest"]["sha256"]:
        return 'served facts do not give the "served" digest'
    if "rp-run-v1-sha256-" + sha256(tag("run"), request, served).hex() != external["runId"]:
        return "request and served digests do not give the runId"
    return None


SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def subjects_problem(statement):
    """docs/RECEIPTS.md 13.1, the rules for readers (15 step 6): None, or what fails."""
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        return 'statement "subject" must be a non-empty array'
    by_name = {}
    for index, subject in enumerate(subjects):
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest, dict) or not digest or not all(isinstance(v, str) for v in digest.values()):
            return 'subject %d must be an object with a "digest" of string values' % index
        if "name" not in subject:
            continue
        name = subject["name"]
        if not isinstance(name, str):
            return 'subject %d "name" must be a string' % index
        if name in by_name:
            return 'subject name "%s" appears twice' % name[:64]
        by_name[name] = subject

    def sha256_of(subject):
        value = subject["digest"].get("sha256") if subject is not None else None
        return value if isinstance(value, str) and SHA256_HEX.match(value) else None

    run = by_name.get("run")
    if sha256_of(run) is None:
        return 'subject "run" with a sha256 digest is required'
    annotations = run.get("annotations")
    run_id = annotations.get("runId") if isinstance(annotations, dict) else None
    if not isinstance(run_id, str) or run_id != "rp-run-v1-sha256-" + sha256_of(run):
        return 'subject "run" must carry annotations.runId, the run identity of its digest'
    if sha256_of(by_name.get("output-bytes")) is None:
        return 'subject "output-bytes" with a sha256 digest is required'
    if "output" in by_name and sha256_of(by_name["output"]) is None:
        return 'subject "output" must have a sha256 digest'
    return None


def retrieval_problem(predicate):
    """docs/RECEIPTS.md 13.2 and 15 step 8.14: None, or what fails in runDetails.retrieval (absent is fine).

    Only this item: a vector's other predicate members are assumed well-formed (15 step 8 reads them first).
    """
    details = predicate["runDetails"]
    if "retrieval" not in details:
        return None
    entries = details["retrieval"]
    if not isinstance(entries, list):
        return "predicate runDetails.retrieval must be an array"
    counts = {d["name"]: d["annotations"]["count"] for d in predicate["buildDefinition"]["resolvedDependencies"]
              if isinstance(d, dict) and d.get("name") in ("system", "input")}
    seen = {}
    for i, entry in enumerate(entries):
        path = "predicate runDetails.retrieval[%d]" % i
        if not isinstance(entry, dict):
            return path + " must be an object"
        source, digest, component, element = (entry.get(k) for k in ("source", "digest", "component", "element"))
        if not isinstance(source, str) or source == "":
            return path + ".source must be a non-empty string"
        sha = digest.get("sha256") if isinstance(digest, dict) else None
        if not isinstance(sha, str) or not SHA256_HEX.match(sha):
            return path + ".digest must have a sha256 of 64 lowercase hex digits"
        if component not in ("system", "input"):
            return path + '.component must be "system" or "input"'
        # JSON integers only: a boolean is not one, and 1.0 reads as a float here but is 1 in JSON.
        if isinstance(element, bool) or not isinstance(element, (int, float)) or element != int(element) or element < 0:
            return path + ".element must be a non-negative integer"
        if element >= counts[component]:
            return path + '.element must be less than the count of component "%s" (%d)' % (component, counts[component])
        key = (source, sha, component, int(element))
        if key in seen:
            return "%s repeats runDetails.retrieval[%d]" % (path, seen[key])
        seen[key] = i
    return None


def base64_any(text):
    """DSSE payloads: standard or URL-safe base64, padded or not (docs/RECEIPTS.md section 15 step 3)."""
    text = text.replace("-", "+").replace("_", "/")
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def disclosure_holds(disclosure, predicate):
    """True when every revealed part gives the digests the predicate carries, and those give its runId.

    Only the checks that need hashing: the shape rules of a disclosure and of a receipt are
    runprint's reader's business, and vectors about them are skipped.
    """
    descriptors = {d["name"]: d for d in predicate["buildDefinition"]["resolvedDependencies"]}
    digests = [bytes.fromhex(descriptors[name]["digest"]["sha256"]) for name in ORDER]
    if predicate_mismatch(predicate) is not None:
        return False
    run_id = predicate["buildDefinition"]["externalParameters"]["runId"]
    if disclosure["runId"] != run_id:
        return False
    for name, part in disclosure["components"].items():
        salt = bytes.fromhex(part["salt"]) if "salt" in part else None
        if name in LISTS:
            leaves = [element_digest(e, None if salt is None else element_salt(salt, i)) for i, e in enumerate(part["value"])]
            digest = list_digest(name, leaves)
        else:
            digest = value_digest(name, part["value"], salt)
        if digest.hex() != descriptors[name]["digest"]["sha256"]:
            return False
    for part in disclosure["elements"]:
        notes = descriptors[part["component"]]["annotations"]
        leaf = element_digest(part["element"], bytes.fromhex(part["salt"]) if "salt" in part else None)
        if part["size"] != notes["count"] or not verify_inclusion(
                leaf, part["index"], part["size"], [bytes.fromhex(h) for h in part["proof"]],
                bytes.fromhex(notes["root"]["sha256"])):
            return False
    return True


# ---- The vectors ---------------------------------------------------------------------------------

def check(folder):
    passed = failed = 0

    def expect(ok, what):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print("FAIL " + what)

    jcs_folder = os.path.join(folder, "jcs")
    for name in sorted(os.listdir(jcs_folder)) if os.path.isdir(jcs_folder) else []:
        with open(os.path.join(jcs_folder, name), encoding="utf-8") as handle:
            vectors = json.load(handle)["vectors"]
        for vector in vectors:
            if "inputHex" in vector:
                data = bytes.fromhex(vector["inputHex"])
            elif "inputText" in vector:
                data = vector["inputText"].encode("utf-8", errors="surrogatepass")
            elif "input" in vector:
                data = json.dumps(vector["input"]).encode("utf-8")
            else:
                continue  # in-process JavaScript values have no meaning outside JavaScript
            what = "%s: %s" % (name, vector["desc"])
            try:
                got = canonical(parse(data))
                expect("wantCanonical" in vector and got == vector["wantCanonical"], what)
            except Rejected:
                expect("wantErr" in vector, what)

    with open(os.path.join(folder, "identity", "compositions.json"), encoding="utf-8") as handle:
        for vector in json.load(handle)["vectors"]:
            want = vector["wantIdentity"]
            request_id, run_id, components = identity(vector["composition"])
            expect(request_id == want["requestId"] and run_id == want["runId"]
                   and components == want["components"], "compositions.json: " + vector["desc"])

    salted_file = os.path.join(folder, "identity", "salted-digests.json")
    with open(salted_file, encoding="utf-8") as handle:
        for vector in json.load(handle)["vectors"]:
            what = "salted-digests.json: " + vector["desc"]
            if "wantElementSalt" in vector:
                got = element_salt(bytes.fromhex(vector["salt"]), vector["index"]).hex()
                expect(got == vector["wantElementSalt"], what)
            elif "wantSaltedElementDigest" in vector:
                got = sha256(b"\x00", tag("salted-element"), bytes.fromhex(vector["elementSalt"]),
                             vector["canonical"].encode("utf-8")).hex()
                expect(got == vector["wantSaltedElementDigest"], what)
            else:
                got = sha256(tag("salted-component/" + vector["component"]), bytes.fromhex(vector["salt"]),
                             vector["canonical"].encode("utf-8")).hex()
                expect(got == vector["wantComponentDigest"], what)

    with open(os.path.join(folder, "disclosure", "rfc9162-inclusion-proofs.json"), encoding="utf-8") as handle:
        for vector in json.load(handle)["vectors"]:
            got = verify_inclusion(bytes.fromhex(vector["leafHash"]), vector["index"], vector["size"],
                                   [bytes.fromhex(h) for h in vector["proof"]], bytes.fromhex(vector["rootHash"]))
            expect(got == vector["wantValid"], "rfc9162-inclusion-proofs.json: " + vector["desc"])

    with open(os.path.join(folder, "disclosure", "disclosures.json"), encoding="utf-8") as handle:
        content = json.load(handle)
        for vector in content["vectors"]:
            # Shape rules (checks "disclosure" and "receipt") belong to the reader, not to hashing.
            if vector.get("wantCheck") in ("disclosure", "receipt"):
                continue
            if "predicate" in vector:
                predicate = vector["predicate"]
            else:
                predicate = vector.get("statement", content["statement"])["predicate"]
            if "disclosureText" in vector:
                # SPEC 17.1: a disclosure file may be two levels deeper than a composition (130).
                disclosure = parse(vector["disclosureText"].encode("utf-8"), DISCLOSURE_MAX_DEPTH)
            else:
                disclosure = vector["disclosure"]
            got = disclosure_holds(disclosure, predicate)
            expect(got == ("wantErr" not in vector), "disclosures.json: " + vector["desc"])

    with open(os.path.join(folder, "receipt", "receipts.json"), encoding="utf-8") as handle:
        for vector in json.load(handle)["vectors"]:
            # Steps 6, 8.14 and 10 need only the signed statement; signatures are openssl's part (15.1).
            retrieval = vector.get("wantCheck") == "predicate" and vector["wantMessage"].startswith("predicate runDetails.retrieval")
            if not (vector.get("wantOk") or retrieval or vector.get("wantCheck") in ("subjects", "identity")):
                continue
            envelope = vector["envelope"]
            envelope = envelope.get("dsseEnvelope", envelope)
            statement = parse(base64_any(envelope["payload"]))
            want = None if vector.get("wantOk") else vector["wantMessage"]
            if retrieval or vector.get("wantOk"):
                expect(retrieval_problem(statement["predicate"]) == (want if retrieval else None), "receipts.json: " + vector["desc"])
                if retrieval:
                    continue
            if vector.get("wantCheck") == "subjects":
                expect(subjects_problem(statement) == want, "receipts.json: " + vector["desc"])
                continue
            expect(subjects_problem(statement) is None and predicate_mismatch(statement["predicate"]) == want,
                   "receipts.json: " + vector["desc"])

    # SPEC 4.4 and 4.8: Anthropic Messages requests, and the members their headers carry. A vector
    # of header-members.json spells the request's header lines as [name, value] pairs, in order.
    providers = os.path.join(folder, "providers")
    for name in sorted(os.listdir(providers)) if os.path.isdir(providers) else []:
        with open(os.path.join(providers, name), encoding="utf-8") as handle:
            vectors = json.load(handle)["vectors"]
        for vector in vectors:
            if vector.get("format") != "anthropic-messages" or "request" not in vector:
                continue
            try:
                body = with_header_members(vector["format"], vector["request"], vector.get("headers", []))
                composition = anthropic_composition(body)
                got = {"wantComposition": composition}
                if "wantRequestId" in vector:
                    got["wantRequestId"] = identity(composition)[0]
            except RequestRejected as error:
                got = {"wantErr": "ERR_PROVIDER_INVALID_REQUEST", "wantPath": error.path}
            want = {key: vector[key] for key in ("wantComposition", "wantRequestId", "wantErr", "wantPath") if key in vector}
            expect(got == want, "%s: %s" % (name, vector["desc"]))

    print("%d passed, %d failed" % (passed, failed))
    return failed == 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "testdata")
    sys.exit(0 if check(folder) else 1)
