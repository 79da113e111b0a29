// The policy evaluator as a pure function (IAM User Guide, "Policy evaluation logic" and
// "Condition operators"; KMS Developer Guide, "Key policies" and "Grant constraints").
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { evaluate, evaluateClause, KmsError, parseOperator, parsePolicy, wildcardMatch, type AuthzRequest } from '../../kms-proxy/index.ts';
import { resourceArnMatch } from '../../kms-proxy/policy/arn.ts';

const ACCOUNT = '111122223333';
const ME = `arn:aws:iam::${ACCOUNT}:user/app`;
const KEY = `arn:aws:kms:us-east-1:${ACCOUNT}:key/0b6a5a3e-2b8e-4a0e-9f55-2f1a4c1f7e01`;

function req(over: Partial<AuthzRequest> & { ctx?: Record<string, string[]> } = {}): AuthzRequest {
  const context = new Map(Object.entries(over.ctx ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
  return { principalArn: ME, principalAccount: ACCOUNT, action: 'kms:Decrypt', resourceArn: KEY, context, ...over };
}

function policy(...statements: object[]): string {
  return JSON.stringify({ Version: '2012-10-17', Statement: statements });
}

const allowAll = { Sid: 'root', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' };

function op(name: string) {
  const o = parseOperator(name);
  if (!o) throw new Error(`no operator ${name}`);
  return o;
}

describe('decisions', () => {
  test('account root in the policy allows the account\'s principals; other accounts are implicitly denied', () => {
    const p = parsePolicy(policy(allowAll));
    expect(evaluate(p, [], req())).toMatchObject({ allowed: true, effect: 'Allow', decidedBy: { kind: 'statement', index: 0, sid: 'root' } });
    const other = evaluate(p, [], req({ principalArn: 'arn:aws:iam::999999999999:user/x', principalAccount: '999999999999' }));
    expect(other).toMatchObject({ allowed: false, effect: 'ImplicitDeny' });
    expect(other.statements[0]).toMatchObject({ applies: false, mismatch: 'principal' });
  });

  test('explicit deny wins over allow and over grants, and names the deciding statement', () => {
    const p = parsePolicy(policy(allowAll, { Sid: 'no-decrypt', Effect: 'Deny', Principal: '*', Action: 'kms:Decrypt', Resource: '*' }));
    const grant = { grantId: 'g1', keyId: 'k', region: 'us-east-1', granteePrincipal: ME, issuingAccount: ACCOUNT, operations: ['Decrypt'], creationDate: 0, grantToken: 't' };
    const d = evaluate(p, [grant], req());
    expect(d).toMatchObject({ allowed: false, effect: 'ExplicitDeny', decidedBy: { kind: 'statement', index: 1, sid: 'no-decrypt' } });
    expect(evaluate(p, [grant], req({ action: 'kms:Encrypt' })).allowed).toBe(true);
  });

  test('a grant allows what the policy does not, within its operations and constraints', () => {
    const p = parsePolicy(policy({ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/admin` }, Action: 'kms:*', Resource: '*' }));
    const grant = { grantId: 'g1', keyId: 'k', region: 'us-east-1', granteePrincipal: ME, issuingAccount: ACCOUNT, operations: ['Decrypt'], constraints: { EncryptionContextSubset: { tenant: 'a' } }, creationDate: 0, grantToken: 't' };
    expect(evaluate(p, [grant], req({ encryptionContext: { tenant: 'a', x: '1' } }))).toMatchObject({ allowed: true, decidedBy: { kind: 'grant', grantId: 'g1' } });
    const wrongCtx = evaluate(p, [grant], req({ encryptionContext: { tenant: 'b' } }));
    expect(wrongCtx).toMatchObject({ allowed: false, effect: 'ImplicitDeny' });
    expect(wrongCtx.grants[0]).toMatchObject({ applies: false, mismatch: 'constraints' });
    expect(evaluate(p, [grant], req({ action: 'kms:Encrypt', encryptionContext: { tenant: 'a' } })).grants[0]?.mismatch).toBe('operation');
    const equals = { ...grant, constraints: { EncryptionContextEquals: { tenant: 'a' } } };
    expect(evaluate(p, [equals], req({ encryptionContext: { tenant: 'a' } })).allowed).toBe(true);
    expect(evaluate(p, [equals], req({ encryptionContext: { tenant: 'a', x: '1' } })).allowed).toBe(false);
  });

  test('actions and resources match with wildcards; NotAction and NotPrincipal invert', () => {
    const p = parsePolicy(policy({ Effect: 'Allow', Principal: { AWS: ME }, Action: ['kms:Generate*', 'kms:De?rypt'], Resource: `arn:aws:kms:us-east-1:${ACCOUNT}:key/*` }));
    expect(evaluate(p, [], req()).allowed).toBe(true);
    expect(evaluate(p, [], req({ action: 'kms:GenerateDataKey' })).allowed).toBe(true);
    expect(evaluate(p, [], req({ action: 'kms:Encrypt' })).statements[0]?.mismatch).toBe('action');
    expect(evaluate(p, [], req({ resourceArn: 'arn:aws:kms:eu-west-1:1:key/x' })).statements[0]?.mismatch).toBe('resource');
    // NotPrincipal must name the account too, or the account (and so ME) is denied (IAM, "NotPrincipal").
    const notAction = parsePolicy(policy(allowAll, { Effect: 'Deny', NotPrincipal: { AWS: [ME, ACCOUNT] }, NotAction: 'kms:Describe*', Resource: '*' }));
    expect(evaluate(notAction, [], req()).allowed).toBe(true);
    expect(evaluate(notAction, [], req({ principalArn: `arn:aws:iam::${ACCOUNT}:user/other` })).effect).toBe('ExplicitDeny');
    expect(evaluate(notAction, [], req({ principalArn: `arn:aws:iam::${ACCOUNT}:user/other`, action: 'kms:DescribeKey' })).allowed).toBe(true);
  });

  test('the decision reports each condition with expected and actual values', () => {
    const p = parsePolicy(policy({ Sid: 'pcr', Effect: 'Allow', Principal: '*', Action: 'kms:Decrypt', Resource: '*', Condition: { StringEqualsIgnoreCase: { 'kms:RecipientAttestation:ImageSha384': 'ABC' }, StringEquals: { 'kms:CallerAccount': ACCOUNT } } }));
    const d = evaluate(p, [], req({ ctx: { 'kms:CallerAccount': [ACCOUNT], 'kms:RecipientAttestation:ImageSha384': ['def'] } }));
    expect(d.allowed).toBe(false);
    expect(d.statements[0]?.conditions).toEqual([
      { operator: 'StringEqualsIgnoreCase', key: 'kms:RecipientAttestation:ImageSha384', expected: ['ABC'], actual: ['def'], passed: false },
      { operator: 'StringEquals', key: 'kms:CallerAccount', expected: [ACCOUNT], actual: [ACCOUNT], passed: true },
    ]);
    expect(evaluate(p, [], req({ ctx: { 'kms:CallerAccount': [ACCOUNT], 'KMS:RecipientAttestation:imagesha384': ['abc'] } })).allowed).toBe(true);
  });
});

describe('condition operators', () => {
  test.each([
    ['StringEquals', ['a'], ['a'], true],
    ['StringEquals', ['a'], ['A'], false],
    ['StringEquals', ['a', 'b'], ['b'], true],
    ['StringEquals', ['a'], undefined, false],
    ['StringNotEquals', ['a'], ['b'], true],
    ['StringNotEquals', ['a', 'b'], ['b'], false],
    ['StringNotEquals', ['a'], undefined, true],
    ['StringEqualsIgnoreCase', ['AbC'], ['aBc'], true],
    ['StringNotEqualsIgnoreCase', ['AbC'], ['aBc'], false],
    ['StringLike', ['arn:*:role/?x'], ['arn:aws:iam::1:role/ax'], true],
    ['StringLike', ['a*'], ['ba'], false],
    ['StringNotLike', ['a*'], ['ba'], true],
    ['StringEqualsIfExists', ['a'], undefined, true],
    ['StringEqualsIfExists', ['a'], ['b'], false],
    ['Null', ['true'], undefined, true],
    ['Null', ['true'], ['x'], false],
    ['Null', ['false'], ['x'], true],
    ['Null', ['false'], undefined, false],
    ['Bool', ['true'], ['true'], true],
    ['Bool', ['true'], ['false'], false],
    ['Bool', ['true'], undefined, false],
    ['NumericLessThan', ['10'], ['9'], true],
    ['NumericLessThan', ['10'], ['10'], false],
    ['NumericGreaterThanEquals', ['10'], ['10'], true],
    ['NumericEquals', ['10'], ['x'], false],
    ['DateLessThan', ['2027-01-01T00:00:00Z'], ['2026-06-01T00:00:00Z'], true],
    ['DateGreaterThan', ['2027-01-01T00:00:00Z'], ['2026-06-01T00:00:00Z'], false],
    ['ArnLike', ['arn:aws:iam::*:user/*'], ['arn:aws:iam::1:user/x'], true],
    ['ArnNotLike', ['arn:aws:iam::*:user/*'], ['arn:aws:iam::1:user/x'], false],
    ['IpAddress', ['10.0.0.0/8'], ['10.1.2.3'], true],
    ['NotIpAddress', ['10.0.0.0/8'], ['10.1.2.3'], false],
    ['IpAddress', ['2001:db8::/32'], ['2001:db8::1'], true],
    ['IpAddress', ['10.1.2.3'], ['10.1.2.3'], true],
    // A malformed prefix matches nothing (it used to throw RangeError, or with '/' match everything).
    ['IpAddress', ['10.0.0.0/33'], ['10.1.2.3'], false],
    ['IpAddress', ['10.0.0.0/x'], ['10.1.2.3'], false],
    ['IpAddress', ['10.0.0.0/'], ['10.1.2.3'], false],
    ['IpAddress', ['10.0.0.0/8/8'], ['10.1.2.3'], false],
    ['NotIpAddress', ['10.0.0.0/33'], ['10.1.2.3'], true],
    ['ForAnyValue:StringEquals', ['a', 'b'], ['x', 'b'], true],
    ['ForAnyValue:StringEquals', ['a'], ['x', 'y'], false],
    ['ForAnyValue:StringEquals', ['a'], undefined, false],
    ['ForAllValues:StringEquals', ['a', 'b'], ['a', 'b'], true],
    ['ForAllValues:StringEquals', ['a'], ['a', 'b'], false],
    ['ForAllValues:StringEquals', ['a'], undefined, true],
    ['ForAllValues:StringNotEquals', ['a'], ['b', 'c'], true],
    ['ForAnyValue:StringNotEquals', ['a'], ['a', 'c'], true],
    ['ForAnyValue:StringLikeIfExists', ['a*'], undefined, true],
  ] as const)('%s %j against %j → %s', (name, policyValues, request, expected) => {
    expect(evaluateClause(op(name), policyValues, request)).toBe(expected);
  });

  test('property: a negated operator is the complement of its positive form when the key is present', () => {
    const pairs = [['StringEquals', 'StringNotEquals'], ['StringLike', 'StringNotLike'], ['StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase'], ['ArnLike', 'ArnNotLike']] as const;
    fc.assert(
      fc.property(fc.constantFrom(...pairs), fc.array(fc.string({ maxLength: 4 }), { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 4 }), ([pos, neg], pv, rv) => {
        expect(evaluateClause(op(neg), pv, [rv])).toBe(!evaluateClause(op(pos), pv, [rv]));
      }),
      { numRuns: 1000 },
    );
  });

  test('property: ForAllValues over one value equals the plain operator; IfExists only differs when the key is absent', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 3 }), { minLength: 1, maxLength: 3 }), fc.string({ maxLength: 3 }), (pv, rv) => {
        expect(evaluateClause(op('ForAllValues:StringEquals'), pv, [rv])).toBe(evaluateClause(op('StringEquals'), pv, [rv]));
        expect(evaluateClause(op('StringEqualsIfExists'), pv, [rv])).toBe(evaluateClause(op('StringEquals'), pv, [rv]));
      }),
      { numRuns: 500 },
    );
  });

  test('property: wildcard matching agrees with an independent regular-expression oracle', () => {
    const oracle = (p: string, v: string) => new RegExp(`^${[...p].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c)).join('')}$`, 's').test(v);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,8}$/), fc.stringMatching(/^[ab]{0,10}$/), (p, v) => {
        expect(wildcardMatch(p, v)).toBe(oracle(p, v));
      }),
      { numRuns: 5000 },
    );
  });

  test('property: Resource matching agrees with a regular-expression oracle of IAM\'s rule (a * ending a segment, or in the sixth, runs over colons; otherwise nothing does)', () => {
    const oracle = (p: string, v: string) => {
      let colons = 0;
      const re = [...p].map((c, i) => {
        const free = colons >= 5 || (c === '*' && (p[i + 1] === ':' || p[i + 1] === undefined));
        if (c === ':') colons++;
        if (c === '*') return free ? '.*' : '[^:]*';
        if (c === '?') return free ? '.' : '[^:]';
        return c;
      });
      return p === '*' || new RegExp(`^${re.join('')}$`, 's').test(v);
    };
    fc.assert(
      fc.property(fc.stringMatching(/^[a:*?]{0,14}$/), fc.stringMatching(/^[a:]{0,14}$/), (p, v) => {
        expect(resourceArnMatch(p, v)).toBe(oracle(p, v));
      }),
      { numRuns: 5000 },
    );
  });

  test('a pathological pattern stays linear-ish (no regex backtracking blow-up)', () => {
    expect(wildcardMatch(`${'*a'.repeat(200)}b`, 'a'.repeat(5000))).toBe(false);
  });

  test('unknown operators and NullIfExists are not operators (Access Analyzer error "Null with if exists"); Null with a set prefix is one', () => {
    expect(parseOperator('StringEqualz')).toBeUndefined();
    expect(parseOperator('NullIfExists')).toBeUndefined();
    expect(parseOperator('ForAnyValue:NullIfExists')).toBeUndefined();
    expect(parseOperator('ForAnyValue:Null')).toMatchObject({ base: 'Null', set: 'ForAnyValue' });
  });
});

describe('parsePolicy → MalformedPolicyDocumentException', () => {
  // The message names the check that refused, so each row proves its own check fires.
  test.each([
    ['not JSON', '{"Statement":', 'The policy is not valid JSON.'],
    ['not an object', '[]', 'The policy must be a JSON object.'],
    ['unknown top-level element', JSON.stringify({ Version: '2012-10-17', Statement: [allowAll], Extra: 1 }), "Policy document contains an unknown element 'Extra'."],
    ['no Statement', '{"Version":"2012-10-17"}', 'Policy document is missing a Statement.'],
    ['an empty Statement list', policy(), 'Policy document has no statements.'],
    ['bad Version', policy(allowAll).replace('2012-10-17', '2020-01-01'), 'The policy document contains an invalid Version.'],
    ['a statement that is not an object', policy('allow' as unknown as object), 'Policy contains a statement that is not a JSON object.'],
    ['a Sid that is not a string', policy({ ...allowAll, Sid: 7 }), 'Policy contains a statement with an invalid Sid.'],
    ['bad Effect', policy({ ...allowAll, Effect: 'Maybe' }), 'Policy contains a statement with an invalid Effect.'],
    ['no Principal', policy({ Effect: 'Allow', Action: 'kms:*', Resource: '*' }), 'Policy contains a statement with no principal.'],
    ['both Principal and NotPrincipal', policy({ ...allowAll, NotPrincipal: '*' }), 'Policy contains a statement with both Principal and NotPrincipal.'],
    ['no Action', policy({ Effect: 'Allow', Principal: '*', Resource: '*' }), 'Policy contains a statement with no Action.'],
    ['both Action and NotAction', policy({ ...allowAll, NotAction: 'kms:Decrypt' }), 'Policy contains a statement with both Action and NotAction.'],
    ['an empty Action list', policy({ ...allowAll, Action: [] }), 'Policy contains a statement with an empty Action.'],
    ['an empty-string Action', policy({ ...allowAll, Action: ['kms:Decrypt', ''] }), 'Policy contains a statement with an invalid Action.'],
    ['no Resource', policy({ Effect: 'Allow', Principal: '*', Action: 'kms:*' }), 'Policy contains a statement with no Resource.'],
    ['both Resource and NotResource', policy({ ...allowAll, NotResource: '*' }), 'Policy contains a statement with both Resource and NotResource.'],
    ['invalid principal', policy({ ...allowAll, Principal: { AWS: 'bob' } }), 'Policy contains a statement with one or more invalid principals.'],
    ['a principal that is not an object or "*"', policy({ ...allowAll, Principal: 42 }), 'Policy contains a statement with one or more invalid principals.'],
    ['an unknown principal type', policy({ ...allowAll, Principal: { Robot: 'r2' } }), 'Policy contains a statement with one or more invalid principals.'],
    ['unknown element', policy({ ...allowAll, Extra: 1 }), "Policy contains a statement with an unknown element 'Extra'."],
    ['a Condition that is not an object', policy({ ...allowAll, Condition: ['StringEquals'] }), 'Policy contains an invalid Condition.'],
    ['a condition block that is not an object', policy({ ...allowAll, Condition: { StringEquals: 'kms:CallerAccount' } }), 'Policy contains an invalid Condition.'],
    ['unknown operator', policy({ ...allowAll, Condition: { StringEqualz: { 'kms:CallerAccount': '1' } } }), "Policy contains a condition with an unsupported operator 'StringEqualz'."],
    ['condition value object', policy({ ...allowAll, Condition: { StringEquals: { 'kms:CallerAccount': { a: 1 } } } }), 'Policy contains a condition with an invalid value.'],
    ['duplicate Sid', policy(allowAll, allowAll), 'Statement IDs (SID) in a single policy must be unique.'],
  ])('%s', (_what, text, message) => {
    let err: unknown;
    try {
      parsePolicy(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KmsError);
    expect((err as KmsError).code).toBe('ERR_KMS_MALFORMED_POLICY_DOCUMENT');
    expect((err as KmsError).awsName).toBe('MalformedPolicyDocumentException');
    expect((err as KmsError).message).toBe(message);
  });

  test('property: parsePolicy on arbitrary JSON either parses or throws MalformedPolicyDocumentException', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        try {
          parsePolicy(JSON.stringify(v));
        } catch (e) {
          expect((e as KmsError).awsName).toBe('MalformedPolicyDocumentException');
        }
      }),
      { numRuns: 1000 },
    );
  });
});
