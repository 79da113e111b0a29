// Form bodies as the console's routes read them: url-encoded, every field declared by the route
// (an unknown field is refused, never ignored), each one checked and bounded, with errors that
// name the field (ERR_UI_INPUT, 400).
import type { Context } from 'hono';
import { UiInputError } from './errors.ts';

/** Bodies of the console's forms are small; the largest is a document in hex (128 KiB). */
export const MAX_FORM_BYTES = 256 * 1024;
const MAX_FIELD_VALUES = 8;

export class Form {
  readonly #fields: ReadonlyMap<string, readonly string[]>;

  private constructor(fields: ReadonlyMap<string, readonly string[]>) {
    this.#fields = fields;
  }

  /** Reads a url-encoded body (already bounded by the route's body limit) and refuses unknown fields. */
  static async read(c: Context, known: readonly string[]): Promise<Form> {
    const type = c.req.header('content-type') ?? '';
    if (!type.startsWith('application/x-www-form-urlencoded')) throw new UiInputError('the body must be application/x-www-form-urlencoded');
    const params = new URLSearchParams(await c.req.text());
    const fields = new Map<string, string[]>();
    for (const [k, v] of params) {
      if (!known.includes(k)) throw new UiInputError(`unknown field '${k.slice(0, 40)}'`);
      const list = fields.get(k) ?? [];
      if (list.length >= MAX_FIELD_VALUES) throw new UiInputError(`field '${k}' is given too often`);
      list.push(v);
      fields.set(k, list);
    }
    return new Form(fields);
  }

  /** The field's value, trimmed; undefined when absent or empty. */
  text(name: string, max: number): string | undefined {
    const list = this.#fields.get(name) ?? [];
    if (list.length > 1) throw new UiInputError(`field '${name}' is given more than once`);
    const v = list[0]?.trim();
    if (v === undefined || v === '') return undefined;
    if (v.length > max) throw new UiInputError(`${name} is longer than ${max} characters`);
    return v;
  }

  required(name: string, max: number): string {
    const v = this.text(name, max);
    if (v === undefined) throw new UiInputError(`${name} is required`);
    return v;
  }

  all(name: string): readonly string[] {
    return this.#fields.get(name) ?? [];
  }

  flag(name: string): boolean {
    const v = this.text(name, 8);
    if (v !== undefined && v !== 'on') throw new UiInputError(`${name} must be 'on' or absent`);
    return v === 'on';
  }

  int(name: string, min: number, max: number): number | undefined {
    const v = this.text(name, 12);
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UiInputError(`${name} must be a whole number from ${min} to ${max}, got '${v}'`);
    return Number(v);
  }

  /** Hex bytes of one of the given lengths (any length up to `max` when `lengths` is empty). */
  hex(name: string, options: { lengths?: readonly number[]; max?: number }): Uint8Array | undefined {
    const v = this.text(name, 2 * (options.max ?? 64));
    if (v === undefined) return undefined;
    if (!/^([0-9a-fA-F]{2})+$/.test(v)) throw new UiInputError(`${name} must be hex (an even number of 0-9a-f)`);
    const bytes = new Uint8Array(Buffer.from(v, 'hex'));
    if (options.lengths && !options.lengths.includes(bytes.length)) throw new UiInputError(`${name} must be ${options.lengths.join(' or ')} bytes, got ${bytes.length}`);
    return bytes;
  }

  /** An ISO 8601 time with a zone (Z or ±hh:mm); undefined when absent. */
  time(name: string): number | undefined {
    const v = this.text(name, 40);
    if (v === undefined) return undefined;
    if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/.test(v)) throw new UiInputError(`${name} must be an ISO 8601 time with a zone, like 2025-04-01T14:00:00Z`);
    const ms = Date.parse(v);
    if (!Number.isFinite(ms)) throw new UiInputError(`${name} is not a valid time: '${v}'`);
    return ms;
  }
}
