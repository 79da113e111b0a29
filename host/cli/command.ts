// The shape every CLI command has. One command per file under `commands/`, registered in
// `commands/index.ts`; `main.ts` parses arguments with node:util parseArgs in strict mode, so an
// unknown flag is an error, never silently ignored.
import { readFileSync } from 'node:fs';
import type { ParseArgsOptionsConfig } from 'node:util';

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

export interface ParsedArgs {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A command's behaviour; its words and summary are its entry in commands/index.ts. */
export interface Command {
  /** Full `--help` text: usage line, options, notes. */
  readonly help: string;
  readonly options: ParseArgsOptionsConfig;
  readonly positionals?: { readonly min: number; readonly max: number };
  /** A nitro-cli command: failures are reported in nitro-cli's `[ Exx ]` format (nitro-errors.ts). */
  readonly nitroCli?: true;
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** A usage mistake: printed with the command's usage hint, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function stringOpt(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} takes a value`);
  return v;
}

export function requiredOpt(args: ParsedArgs, name: string): string {
  const v = stringOpt(args, name);
  if (v === undefined) throw new UsageError(`--${name} is required`);
  return v;
}

export function listOpt(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (v === undefined) return [];
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x !== 'string') throw new UsageError(`--${name} takes a value`);
    return x;
  });
}

export function flagOpt(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

export function intOpt(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const v = stringOpt(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError(`--${name} must be a whole number, got '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function json(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** `--pcr N=HEX` (repeatable) → index → bytes; 48-byte (SHA-384) values unless `lengths` says otherwise. */
export function pcrListOpt(args: ParsedArgs, name: string, maxIndex: number, lengths: readonly number[] = [48]): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const item of listOpt(args, name)) {
    const m = /^(\d{1,2})=([0-9a-fA-F]*)$/.exec(item);
    if (!m) throw new UsageError(`--${name} takes N=HEX, got '${item}'`);
    const index = Number(m[1]);
    const hex = m[2] ?? '';
    if (index > maxIndex) throw new UsageError(`--${name} index must be 0–${maxIndex}, got ${index}`);
    if (hex.length % 2 !== 0 || !lengths.includes(hex.length / 2)) {
      throw new UsageError(`--${name} ${index}: value must be ${lengths.join(' or ')} bytes of hex, got ${hex.length / 2}`);
    }
    if (out.has(index)) throw new UsageError(`--${name} ${index} given twice`);
    out.set(index, new Uint8Array(Buffer.from(hex, 'hex')));
  }
  return out;
}

/** `--x HEX` → bytes, or undefined when absent. */
export function hexOpt(args: ParsedArgs, name: string, maxBytes: number): Uint8Array | undefined {
  const v = stringOpt(args, name);
  if (v === undefined) return undefined;
  if (!/^([0-9a-fA-F]{2})*$/.test(v)) throw new UsageError(`--${name} must be an even-length hex string`);
  if (v.length / 2 > maxBytes) throw new UsageError(`--${name} must be at most ${maxBytes} bytes`);
  return new Uint8Array(Buffer.from(v, 'hex'));
}

/** The contents of a file an option names; an unreadable file is the user's mistake (exit 2). */
export function readOptionFile(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`--${option}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
