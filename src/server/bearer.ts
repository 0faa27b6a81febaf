/** RFC 6750 bearer tokens: `Authorization: Bearer <token>`, compared in time independent of where they differ. */

const encoder = new TextEncoder();

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

/** True when the header carries exactly `token`. Both sides are hashed first so the comparison has a fixed length. */
export async function checkBearer(header: string | null, token: string): Promise<boolean> {
  const match = header === null ? null : /^Bearer ([\x21-\x7e]+)$/i.exec(header);
  const given = await digest(match?.[1] ?? '');
  const wanted = await digest(token);
  let difference = match === null ? 1 : 0;
  for (let i = 0; i < 32; i++) difference |= given[i]! ^ wanted[i]!;
  return difference === 0;
}

/** True when `given` (a header's value, or null) is exactly `token`, compared as checkBearer does. */
export async function sameToken(given: string | null, token: string): Promise<boolean> {
  const a = await digest(given ?? '');
  const b = await digest(token);
  let difference = given === null ? 1 : 0;
  for (let i = 0; i < 32; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}
