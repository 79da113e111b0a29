// Calls refused before they are anyone's (no valid signature), refused by the request quota, or
// refused because the log itself cannot be written are counted, not recorded one by one: a flood
// of them wrote a record each (about 33 GiB an hour). Counts are kept per (kind, source address,
// error, reason, operation, principal) and written as one RequestSummary record per interval. The table
// holds at most MAX_SUMMARY_ROWS rows; calls beyond it are counted in `unattributed`, so a flood
// from many addresses costs bounded memory and one bounded record per interval.
import { isoTime } from './format.ts';

export const MAX_SUMMARY_ROWS = 1000;
/** Rows per RequestSummary record, by their (over-estimated) JSON size. */
const PART_BYTES = 64 * 1024;

/** Why a call is counted rather than recorded. */
export type SummaryKind = 'unauthenticated' | 'throttled' | 'auditUnavailable';

export interface CountedCall {
  readonly kind: SummaryKind;
  readonly time: number;
  readonly sourceIp?: string;
  /** The AWS error answered (MissingAuthenticationTokenException, ThrottlingException, …). */
  readonly errorCode: string;
  /** The refusal's detail (e.g. which SigV4 check failed), at most 120 characters. */
  readonly reason?: string;
  /** A known operation's name, else 'Unknown' (the target header is the caller's to choose). */
  readonly eventName: string;
  /** Only for calls whose signature verified (throttled ones). */
  readonly principalArn?: string;
}

interface Row {
  readonly kind: SummaryKind;
  readonly sourceIPAddress: string | null;
  readonly errorCode: string;
  readonly reason?: string;
  readonly eventName: string;
  readonly principalArn?: string;
  count: number;
  firstTime: number;
  lastTime: number;
}

export class RequestSummary {
  #rows = new Map<string, Row>();
  #unattributed = 0;
  #total = 0;
  #start = Number.NaN;
  #end = Number.NaN;

  count(c: CountedCall): void {
    this.#total++;
    if (this.#total === 1) this.#start = c.time;
    this.#end = Math.max(Number.isNaN(this.#end) ? c.time : this.#end, c.time);
    const id = `${c.kind}\0${c.sourceIp ?? ''}\0${c.errorCode}\0${c.reason ?? ''}\0${c.eventName}\0${c.principalArn ?? ''}`;
    const row = this.#rows.get(id);
    if (row) {
      row.count++;
      row.lastTime = c.time;
    } else if (this.#rows.size < MAX_SUMMARY_ROWS) {
      this.#rows.set(id, { kind: c.kind, sourceIPAddress: c.sourceIp ?? null, errorCode: c.errorCode, ...(c.reason ? { reason: c.reason } : {}), eventName: c.eventName, ...(c.principalArn ? { principalArn: c.principalArn } : {}), count: 1, firstTime: c.time, lastTime: c.time });
    } else {
      this.#unattributed++;
    }
  }

  get empty(): boolean {
    return this.#total === 0;
  }

  /**
   * The RequestSummary record bodies for the calls counted so far (one, or several `part`s of at
   * most PART_BYTES of rows each, so every record stays far below the log's record limit), and a
   * fresh table; none when no call was counted.
   */
  take(region: string, account: string): Record<string, unknown>[] {
    if (this.#total === 0) return [];
    const parts: Record<string, unknown>[][] = [[]];
    let size = 0;
    for (const r of this.#rows.values()) {
      const row = {
        kind: r.kind,
        sourceIPAddress: r.sourceIPAddress,
        errorCode: r.errorCode,
        ...(r.reason ? { reason: r.reason } : {}),
        eventName: r.eventName,
        ...(r.principalArn ? { principalArn: r.principalArn } : {}),
        count: r.count,
        firstTime: isoTime(r.firstTime),
        lastTime: isoTime(r.lastTime),
      };
      const bytes = 200 + (r.sourceIPAddress?.length ?? 0) + r.errorCode.length + (r.reason?.length ?? 0) * 6 + r.eventName.length + (r.principalArn?.length ?? 0) * 3;
      if (size + bytes > PART_BYTES && (parts.at(-1)?.length ?? 0) > 0) {
        parts.push([]);
        size = 0;
      }
      parts.at(-1)?.push(row);
      size += bytes;
    }
    const common = {
      periodStart: isoTime(this.#start),
      periodEnd: isoTime(this.#end),
      awsRegion: region,
      recipientAccountId: account,
      total: this.#total,
      unattributed: this.#unattributed,
    };
    const bodies = parts.map((counts, i) => ({ ...common, ...(parts.length > 1 ? { part: i + 1, parts: parts.length } : {}), counts }));
    this.#rows = new Map();
    this.#unattributed = 0;
    this.#total = 0;
    this.#start = Number.NaN;
    this.#end = Number.NaN;
    return bodies;
  }
}
