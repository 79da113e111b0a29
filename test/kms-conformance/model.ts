// What the AWS KMS API is, read from the unmodified @aws-sdk/client-kms: its Smithy model ships in
// the package as static schemas (the operations' input and output structures, member types), its
// enums, and the API Reference's documentation of every operation, including the exceptions each
// documents (`@throws`). The conformance suite checks this KMS against it, so a new model release
// (an operation, a member, an enum value, a documented exception) shows up as a failing row.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as sdk from '@aws-sdk/client-kms';
import { NormalizedSchema } from '@smithy/core/schema';

const TYPES = join(dirname(createRequire(import.meta.url).resolve('@aws-sdk/client-kms')), '..', 'dist-types');
const exported = sdk as unknown as Record<string, unknown>;

/** Every operation of kms-2014-11-01 the SDK has a command for. */
export const MODEL_OPERATIONS: readonly string[] = readdirSync(join(TYPES, 'commands'))
  .filter((f) => f.endsWith('Command.d.ts'))
  .map((f) => f.slice(0, -'Command.d.ts'.length))
  .sort();

/** The exceptions the API Reference documents for `op` (the command's `@throws`), without the base class. */
export function documentedErrors(op: string): readonly string[] {
  const text = readFileSync(join(TYPES, 'commands', `${op}Command.d.ts`), 'utf8');
  return [...text.matchAll(/@throws \{@link (\w+)\}/g)].map((m) => m[1] ?? '').filter((n) => n !== 'KMSServiceException');
}

type StaticOperation = readonly [number, string, string, number, () => unknown, () => unknown];

function operationSchema(op: string): StaticOperation {
  const s = exported[`${op}$`];
  if (!Array.isArray(s)) throw new Error(`the SDK has no schema for ${op}`);
  return s as unknown as StaticOperation;
}

/** The operation's output structure (unit for operations that return nothing). */
export function outputSchema(op: string): NormalizedSchema {
  return NormalizedSchema.of(operationSchema(op)[5]() as Parameters<typeof NormalizedSchema.of>[0]);
}

export interface InputMember {
  readonly name: string;
  readonly required: boolean;
  /** The enum's values when the member (or a list member's element) is one of the model's enums. */
  readonly enumValues?: readonly string[];
  readonly list: boolean;
}

const MODELS = readFileSync(join(TYPES, 'models', 'models_0.d.ts'), 'utf8');
const ENUMS = new Set([...readFileSync(join(TYPES, 'models', 'enums.d.ts'), 'utf8').matchAll(/export declare const (\w+): \{/g)].map((m) => m[1] ?? ''));

/** The TypeScript type the SDK declares for each member of an interface (`Name?: Type | undefined`). */
function declaredTypes(iface: string): ReadonlyMap<string, string> {
  const start = MODELS.indexOf(`export interface ${iface} {`);
  if (start < 0) return new Map();
  const body = MODELS.slice(start, MODELS.indexOf('\n}\n', start));
  return new Map([...body.matchAll(/^ {4}(\w+)\??: ([\w[\]]+) \| undefined;$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']));
}

/**
 * The input members of `op`: names in model order; required as the static schema marks them (a
 * structure lists its required members first and says how many); enum values from the SDK's enums.
 */
export function inputMembers(op: string): readonly InputMember[] {
  const input = operationSchema(op)[4]() as readonly unknown[];
  const names = input[4] as readonly string[];
  const requiredCount = typeof input[6] === 'number' ? input[6] : 0;
  const types = declaredTypes(`${op}Request`);
  return names.map((name, i) => {
    const type = types.get(name) ?? '';
    const element = type.replace(/\[\]$/, '');
    const values = ENUMS.has(element) ? Object.values(exported[element] as Record<string, string>) : undefined;
    return { name, required: i < requiredCount, list: type.endsWith('[]'), ...(values ? { enumValues: values } : {}) };
  });
}
