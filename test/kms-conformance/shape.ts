// Checks a response against the model: every member the server sent is a member of the output
// structure, in its awsJson1_1 wire type (timestamps as epoch-second numbers, blobs as base64
// strings), and the SDK hands it to the caller in the type the model gives it (Date, Uint8Array, …).
// The members present are returned as paths (`KeyMetadata.Arn`, `Grants[].GrantId`,
// `Constraints.EncryptionContextSubset{}`) for the suite to compare with what AWS returns.
import type { NormalizedSchema } from '@smithy/core/schema';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface ShapeReport {
  readonly paths: ReadonlySet<string>;
  readonly problems: readonly string[];
}

export function checkShape(schema: NormalizedSchema, wire: unknown, sdkOutput: unknown): ShapeReport {
  const paths = new Set<string>();
  const problems: string[] = [];
  if (schema.isUnitSchema()) {
    // Operations without output answer `{}` (or nothing), as AWS does.
    if (wire !== undefined && (wire === null || typeof wire !== 'object' || Object.keys(wire).length > 0)) problems.push(`(response): an empty body or {} expected, got ${JSON.stringify(wire)}`);
    return { paths, problems };
  }
  const walk = (s: NormalizedSchema, raw: unknown, out: unknown, path: string): void => {
    const bad = (what: string): void => {
      problems.push(`${path || '(response)'}: ${what}`);
    };
    if (s.isStructSchema()) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad(`a structure expected, got ${JSON.stringify(raw)}`);
      const members = new Map([...s.structIterator()]);
      for (const [k, v] of Object.entries(raw)) {
        const m = members.get(k);
        const p = path === '' ? k : `${path}.${k}`;
        if (!m) {
          bad(`member ${k} is not in the model`);
          continue;
        }
        paths.add(p);
        walk(m, v, (out as Record<string, unknown> | undefined)?.[k], p);
      }
      return;
    }
    if (s.isListSchema()) {
      if (!Array.isArray(raw)) return bad('a list expected');
      if (!Array.isArray(out)) bad('the SDK did not return a list');
      raw.forEach((item, i) => walk(s.getValueSchema(), item, (out as unknown[] | undefined)?.[i], `${path}[]`));
      return;
    }
    if (s.isMapSchema()) {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return bad('a map expected');
      for (const [k, v] of Object.entries(raw)) walk(s.getValueSchema(), v, (out as Record<string, unknown> | undefined)?.[k], `${path}{}`);
      return;
    }
    if (s.isBlobSchema()) {
      if (typeof raw !== 'string' || !BASE64.test(raw)) return bad('a base64 string expected (blob)');
      if (!(out instanceof Uint8Array)) bad('the SDK did not return a Uint8Array');
      return;
    }
    if (s.isTimestampSchema()) {
      if (typeof raw !== 'number' || !Number.isFinite(raw)) return bad('epoch seconds expected (timestamp)');
      if (!(out instanceof Date) || out.getTime() !== Math.round(raw * 1000)) bad('the SDK did not return the same Date');
      return;
    }
    if (s.isBooleanSchema()) {
      if (typeof raw !== 'boolean') bad('a boolean expected');
      else if (out !== raw) bad('the SDK returned another value');
      return;
    }
    if (s.isNumericSchema()) {
      if (typeof raw !== 'number' || !Number.isInteger(raw)) bad('an integer expected');
      else if (out !== raw) bad('the SDK returned another value');
      return;
    }
    if (s.isStringSchema()) {
      if (typeof raw !== 'string') bad('a string expected');
      else if (out !== raw) bad('the SDK returned another value');
      return;
    }
    bad('a member type the suite does not know');
  };
  walk(schema, wire, sdkOutput, '');
  return { paths, problems };
}
