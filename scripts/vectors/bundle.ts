/** Generates testdata/bundle/sigstore-bundle.json: Sigstore bundle v0.3 around a DSSE receipt (docs/RECEIPTS.md section 16). */
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { RunprintError } from '../../src/errors.ts';
import { parsePublicKey } from '../../src/keys/keys.ts';
import { formatBundle, parseBundle } from '../../src/receipt/sigstore-bundle.ts';
import { verifyReceipt } from '../../src/receipt/verify.ts';
import type { VectorFile } from '../generate-vectors.ts';

// Expected values are written out here from the bundle section and sigstore_bundle.proto, never
// taken from src/receipt/: the test suite checks the real code, and @sigstore/verify, against them.

const SPEC = '16';
const MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
const IN_TOTO = 'application/vnd.in-toto+json';

// A test key, derived from a fixed string so the file is the same on every run. Never a real key.
const SEED = createHash('sha256').update('runprint test vector key: sigstore bundle', 'utf8').digest();
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, SEED]), format: 'der', type: 'pkcs8' });
const publicKey = createPublicKey(privateKey);
const publicKeyPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
/** The runprint key id: lowercase hex SHA-256 of the DER SubjectPublicKeyInfo. It is the hint. */
const hint = createHash('sha256').update(publicKey.export({ format: 'der', type: 'spki' })).digest('hex');

function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const statement = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [
      { name: 'run', digest: { sha256: digest('run identity') } },
      { name: 'output', digest: { sha256: digest('the output text') } },
    ],
    predicateType: 'https://example.org/runprint-bundle-test/v1',
    predicate: { note: 'test statement; the bundle does not read the predicate' },
  }),
  'utf8',
);
const sig = sign(null, pae(IN_TOTO, statement), privateKey).toString('base64');
const envelope = { payload: statement.toString('base64'), payloadType: IN_TOTO, signatures: [{ keyid: hint, sig }] };
const bundle = {
  mediaType: MEDIA_TYPE,
  verificationMaterial: { publicKey: { hint } },
  dsseEnvelope: { payload: envelope.payload, payloadType: IN_TOTO, signatures: [{ sig, keyid: hint }] },
};

type Bundle = typeof bundle & Record<string, unknown>;
/** A copy of the valid bundle with one change. */
function changed(change: (copy: any) => void): Bundle {
  const copy = structuredClone(bundle) as Bundle;
  change(copy);
  return copy;
}

function flipFirstBit(base64: string): string {
  const bytes = Buffer.from(base64, 'base64');
  bytes[0]! ^= 1;
  return bytes.toString('base64');
}

/**
 * The expectations above are written from the spec; before the file is written, runprint's own
 * reader and verifier must agree with each (the test suite also asks @sigstore/verify).
 */
async function assertOutcomes(vectors: Array<Record<string, any>>): Promise<void> {
  const key = await parsePublicKey(publicKeyPem);
  for (const vector of vectors) {
    const disagree = (got: string) => new Error(`bundle vector "${vector['desc']}": the code says ${got}`);
    if (vector['wantBundle'] !== undefined) {
      if (JSON.stringify(formatBundle(vector['envelope'], { publicKeyHint: vector['publicKeyHint'] })) !== JSON.stringify(vector['wantBundle'])) throw disagree('another bundle');
    }
    const input = vector['bundle'] ?? vector['wantBundle'];
    if (vector['wantErr'] !== undefined) {
      let got = 'accepted';
      try {
        parseBundle(input);
      } catch (error) {
        got = error instanceof RunprintError ? `${error.code} at ${error.path}` : String(error);
      }
      if (got !== `${vector['wantErr']} at ${vector['wantPath']}`) throw disagree(got);
      continue;
    }
    // The statement is not a receipt: only steps 1 to 4 (up to the signature) are asked about.
    const report = await verifyReceipt(input, { keys: [key] });
    const signed = report.checks.some((check) => check.name === 'signature' && check.ok);
    if (signed !== vector['wantVerified']) throw disagree(signed ? 'signed' : 'not signed');
  }
}

export async function generate(): Promise<VectorFile[]> {
  const vectors: unknown[] = [
    {
      desc: 'an in-toto statement with two subjects in a single-signature DSSE envelope, bundled with its key id as hint',
      spec: SPEC,
      envelope,
      publicKeyHint: hint,
      publicKeyPem,
      wantBundle: bundle,
      wantVerified: true,
    },
    // Well-formed bundles whose signature must not verify with the key.
    ...[
      ['a payload changed after signing', changed((b) => (b.dsseEnvelope.payload = flipFirstBit(b.dsseEnvelope.payload)))],
      ['a payload type changed after signing (it is inside the PAE)', changed((b) => (b.dsseEnvelope.payloadType = 'application/json'))],
      ['a signature with one bit flipped', changed((b) => (b.dsseEnvelope.signatures[0].sig = flipFirstBit(sig)))],
    ].map(([desc, changedBundle]) => ({ desc, spec: SPEC, bundle: changedBundle, publicKeyPem, wantVerified: false })),
    // Bundles parseBundle refuses, with the code and the path of the first problem.
    ...(
      [
        ['the v0.2 media type', changed((b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2')), 'ERR_BUNDLE_INVALID', "$['mediaType']"],
        ['the legacy spelling of the v0.3 media type', changed((b) => (b.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.3')), 'ERR_BUNDLE_INVALID', "$['mediaType']"],
        ['a message signature instead of a DSSE envelope', changed((b) => {
          delete b.dsseEnvelope;
          b.messageSignature = { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.alloc(32).toString('base64') }, signature: sig };
        }), 'ERR_BUNDLE_INVALID', "$['messageSignature']"],
        ['no DSSE envelope', changed((b) => delete b.dsseEnvelope), 'ERR_BUNDLE_INVALID', "$['dsseEnvelope']"],
        ['a certificate instead of a public-key hint', changed((b) => (b.verificationMaterial = { certificate: { rawBytes: 'MAA=' } })), 'ERR_BUNDLE_INVALID', "$['verificationMaterial']['certificate']"],
        ['no hint', changed((b) => (b.verificationMaterial.publicKey = {})), 'ERR_BUNDLE_INVALID', "$['verificationMaterial']['publicKey']['hint']"],
        ['a publicKey member other than the hint (proto3 PublicKeyIdentifier has only "hint")', changed((b) => (b.verificationMaterial.publicKey.rawBytes = 'MAA=')), 'ERR_BUNDLE_INVALID', "$['verificationMaterial']['publicKey']['rawBytes']"],
        ['a transparency log entry', changed((b) => (b.verificationMaterial.tlogEntries = [{ logIndex: '0' }])), 'ERR_BUNDLE_INVALID', "$['verificationMaterial']['tlogEntries']"],
        ['two signatures', changed((b) => b.dsseEnvelope.signatures.push({ sig, keyid: hint })), 'ERR_BUNDLE_INVALID', "$['dsseEnvelope']['signatures']"],
        ['a keyid that differs from the hint', changed((b) => (b.dsseEnvelope.signatures[0].keyid = '0'.repeat(64))), 'ERR_BUNDLE_INVALID', "$['dsseEnvelope']['signatures'][0]['keyid']"],
        ['no keyid', changed((b) => delete b.dsseEnvelope.signatures[0].keyid), 'ERR_BUNDLE_INVALID', "$['dsseEnvelope']['signatures'][0]['keyid']"],
        ['no signatures', changed((b) => (b.dsseEnvelope.signatures = [])), 'ERR_ENVELOPE_INVALID', "$['dsseEnvelope']['signatures']"],
        ['no payload type', changed((b) => delete b.dsseEnvelope.payloadType), 'ERR_ENVELOPE_INVALID', "$['dsseEnvelope']['payloadType']"],
        ['a payload in URL-safe base64', changed((b) => (b.dsseEnvelope.payload = '-_8=')) /* bytes fb ff */, 'ERR_ENVELOPE_BASE64', "$['dsseEnvelope']['payload']"],
        ['a payload whose unused bits are not zero ("AAB=" for the bytes 00 00)', changed((b) => (b.dsseEnvelope.payload = 'AAB=')), 'ERR_ENVELOPE_BASE64', "$['dsseEnvelope']['payload']"],
        ['a signature whose unused bits are not zero ("AB==" for the byte 00)', changed((b) => (b.dsseEnvelope.signatures[0].sig = 'AB==')), 'ERR_ENVELOPE_BASE64', "$['dsseEnvelope']['signatures'][0]['sig']"],
      ] as Array<[string, Bundle, string, string]>
    ).map(([desc, changedBundle, wantErr, wantPath]) => ({ desc, spec: SPEC, bundle: changedBundle, wantErr, wantPath })),
  ];
  await assertOutcomes(vectors as Array<Record<string, any>>);
  return [
    {
      path: 'bundle/sigstore-bundle.json',
      content: {
        desc: 'Sigstore bundle v0.3 with a public-key hint around a DSSE receipt: what runprint writes, what it refuses, and what must fail verification',
        spec: SPEC,
        generated: true,
        vectors,
      },
    },
  ];
}
