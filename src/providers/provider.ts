/** One provider API as runprint knows it: its request mapping (SPEC 4), served facts (4.6) and output assembly (12). */
import type { JsonObject } from '../jcs/json-value.ts';
import type { AssembledOutput } from './output-reading.ts';
import type { SseEvent } from './output-sse.ts';
import type { RequestFormat, RequestMapping } from './request-format.ts';

/** Where a non-streamed response reports the facts about what served the run (SPEC 4.6). */
export interface ServedPlan {
  /** The member that names the response object type, and the values it may have. */
  discriminator: { member: string; values: readonly string[]; message: string };
  /** Fact name -> path of the string member in the response that reports it. */
  facts: ReadonlyArray<readonly [name: string, path: readonly string[]]>;
}

/** An HTTP route of a provider API whose calls are runs (captured by the fetch wrapper and the proxy). */
export interface ProviderRoute {
  method: 'POST';
  /** The path as the provider's public API spells it, e.g. `/v1/chat/completions`. */
  path: string;
}

/**
 * Everything runprint knows about one API, in one folder of src/providers: adding a provider is
 * adding a folder that exports one of these, and naming it in registry.ts.
 */
export interface Provider {
  format: RequestFormat;
  /** The request mapping, both ways (SPEC 4.1-4.4). */
  request: RequestMapping;
  /** Where its responses report served facts (SPEC 4.6). */
  served: ServedPlan;
  /** The output of a non-streamed response body, parsed (SPEC 12). */
  outputFromResponse(response: JsonObject): AssembledOutput;
  /** The output of a server-sent-event stream, as its events (SPEC 12). */
  outputFromStream(events: readonly SseEvent[]): AssembledOutput;
  /** The routes whose calls are runs of this format. */
  routes: readonly ProviderRoute[];
  /** The lower-case response header in which the provider names its request (kept in run records). */
  requestIdHeader: string;
  /**
   * The service that answers these routes, for the proxy: its name (the proxy's path prefix and
   * `--upstream NAME=URL`) and its public URL, to which the route's path is appended. Formats of
   * one service share it (OpenAI's chat and responses).
   */
  upstream: { name: string; url: string };
  /**
   * Texts whose presence in a chunk of an SSE stream means the stream's terminal event (SPEC 12)
   * or an error event (after which SDKs stop reading too, and the provider ends the stream) is in
   * it: a proxy in sync durability holds that chunk until the run's record is durable, so a client
   * that stops reading at the terminal event has a record of what it read, and in process the run
   * is recorded once that event is whole, not as aborted by the SDK's cancel after it. Each is
   * written so that it cannot occur inside a JSON string (a line start, or quotes a string would
   * escape); a stream's first line counts as a line start.
   */
  streamEndMarkers: readonly string[];
  /**
   * Request members an API takes in an HTTP header instead of the body (SPEC 4.8): the lower-case
   * header name and the member a captured request is read with; each header holds a
   * comma-separated list of strings. Empty for an API that has none.
   */
  headerMembers: readonly HeaderMember[];
}

/** A request member sent as a header (SPEC 4.8): `anthropic-beta` is Anthropic's `betas`. */
export interface HeaderMember {
  header: string;
  member: string;
}
