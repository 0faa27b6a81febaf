/** DSSE v1.0 (secure-systems-lab/dsse, protocol.md, "Signature Definition"): the pre-authentication encoding. */

const encoder = new TextEncoder();

/**
 * PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, where SP is one 0x20
 * byte and LEN is the ASCII decimal byte length with no leading zeros. The type is the UTF-8
 * encoding of the payload type. This is the exact byte string every DSSE signature signs, so
 * the payload type is authenticated along with the body and neither can be swapped.
 *
 * Example (protocol.md, "Test Vectors"): PAE("http://example.com/HelloWorld", "hello world") is
 * the ASCII text `DSSEv1 29 http://example.com/HelloWorld 11 hello world`.
 */
export function pae(payloadType: string, body: Uint8Array): Uint8Array {
  const type = encoder.encode(payloadType);
  const head = encoder.encode(`DSSEv1 ${type.length} `);
  const middle = encoder.encode(` ${body.length} `);
  const out = new Uint8Array(head.length + type.length + middle.length + body.length);
  out.set(head, 0);
  out.set(type, head.length);
  out.set(middle, head.length + type.length);
  out.set(body, head.length + type.length + middle.length);
  return out;
}
