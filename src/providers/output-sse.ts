/** docs/SPEC.md section 12.1 (WHATWG HTML 9.2.6, server-sent events): the event stream parser for output. */
import { OutputError } from '../errors.ts';

/** One dispatched server-sent event: its `event:` name (null when no `event:` line set one) and its data. */
export interface SseEvent {
  event: string | null;
  data: string;
}

/*
 * The body is attacker-controlled. The parser follows the WHATWG interpretation of an event
 * stream, incrementally, so that feeding a body in any split gives the same events:
 *
 * - the bytes are UTF-8 (a malformed sequence is rejected, never replaced); one leading U+FEFF is
 *   dropped, as the standard says;
 * - a line ends at CRLF, LF or CR; a CR at the end of one chunk may be the first half of a CRLF;
 * - a line starting with ":" is a comment; otherwise the field name runs to the first ":" and the
 *   value follows it, less one leading space; a line without ":" is a field with an empty value;
 * - `event` sets the name, `data` appends its value and a LF to the data buffer, `id` and `retry`
 *   and unknown fields are ignored (they are transport, not output);
 * - an empty line dispatches the event when the data buffer is not empty (dropping the last LF),
 *   then resets name and data;
 * - at the end of the body, an event that was not ended by an empty line is not dispatched
 *   (`pending` tells that this happened).
 */
export class SseParser {
  readonly events: SseEvent[] = [];
  #decoder = new TextDecoder('utf-8', { fatal: true });
  #line = '';
  #afterCr = false;
  #name: string | null = null;
  #data = '';
  #hasData = false;
  #ended = false;

  /** Feeds the next bytes of the body. */
  push(chunk: Uint8Array): void {
    if (this.#ended) throw new RangeError('push after end');
    this.#text(this.#decode(chunk, true));
  }

  /**
   * Ends the body. Returns whether an event was pending (had a field line but no empty line to
   * end it): such an event is discarded, as the standard requires.
   */
  end(): { pending: boolean } {
    if (this.#ended) throw new RangeError('end called twice');
    this.#text(this.#decode(new Uint8Array(0), false));
    this.#ended = true;
    const pending = this.#line.length > 0 || this.#hasData || this.#name !== null;
    return { pending };
  }

  #decode(chunk: Uint8Array, stream: boolean): string {
    try {
      return this.#decoder.decode(chunk, { stream });
    } catch {
      throw new OutputError('ERR_OUTPUT_INVALID', 'event stream is not well-formed UTF-8');
    }
  }

  #text(text: string): void {
    let start = 0;
    if (this.#afterCr && text.length > 0) {
      this.#afterCr = false;
      if (text.charCodeAt(0) === 0x0a) start = 1;
    }
    const breaks = /[\r\n]/g;
    breaks.lastIndex = start;
    for (let match = breaks.exec(text); match !== null; match = breaks.exec(text)) {
      const end = match.index;
      this.#lineDone(this.#line + text.slice(start, end));
      this.#line = '';
      if (text.charCodeAt(end) === 0x0d) {
        if (end + 1 === text.length) this.#afterCr = true;
        else if (text.charCodeAt(end + 1) === 0x0a) breaks.lastIndex = end + 2;
      }
      start = breaks.lastIndex;
    }
    this.#line += text.slice(start);
  }

  #lineDone(line: string): void {
    if (line.length === 0) {
      if (this.#hasData) {
        this.events.push({ event: this.#name, data: this.#data.slice(0, -1) });
      }
      this.#name = null;
      this.#data = '';
      this.#hasData = false;
      return;
    }
    if (line.charCodeAt(0) === 0x3a) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 0x20) value = value.slice(1);
    if (field === 'event') this.#name = value;
    else if (field === 'data') {
      this.#data += `${value}\n`;
      this.#hasData = true;
    }
  }
}

/** The events of a whole event stream body, and whether an unfinished event was discarded at its end. */
export function parseEventStream(body: Uint8Array): { events: SseEvent[]; pending: boolean } {
  const parser = new SseParser();
  parser.push(body);
  const { pending } = parser.end();
  return { events: parser.events, pending };
}
