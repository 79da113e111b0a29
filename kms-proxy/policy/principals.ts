// Who a caller is, as the Principal and NotPrincipal elements and grants see it (IAM User Guide,
// "AWS JSON policy elements: Principal" and "NotPrincipal"). A caller is a chain of identities: its
// account, then the IAM user, or the role and its session, or the federated user. A Principal
// element applies when it names any identity of the chain: the account (`123456789012` or
// `arn:aws:iam::123456789012:root`, which delegates to the account: every principal of it, whose
// identity policy identity.ts then applies), the user, the role (every session of it), or the
// session.
// NotPrincipal excludes a caller only when it names every identity of the chain: a NotPrincipal that
// names a user but not the user's account still denies the user ("you must also specify the account
// ARN of the not-denied principal. Otherwise, the policy might deny access to the entire account").

const PARTITION = 'aws[a-z-]*';
const NAME = '[\\w+=,.@-]{1,128}';
const PATH = '(?:/[\\x21-\\x7e]*?)?/';

const ROOT = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):root$`);
const USER = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):user${PATH}(${NAME})$`);
const ROLE = new RegExp(`^arn:${PARTITION}:iam::(\\d{12}):role${PATH}(${NAME})$`);
const SESSION = new RegExp(`^arn:${PARTITION}:sts::(\\d{12}):assumed-role/(${NAME})/(${NAME})$`);
const FEDERATED = new RegExp(`^arn:${PARTITION}:sts::(\\d{12}):federated-user/(${NAME})$`);
const ACCOUNT = /^\d{12}$/;

export type PrincipalType = 'Account' | 'User' | 'AssumedRole' | 'FederatedUser';

export interface Identity {
  readonly arn: string;
  readonly account: string;
  readonly type: PrincipalType;
  /** IAM users: the user's name (`aws:username`). */
  readonly userName?: string;
  /** Role sessions: the role's name, which a role ARN in a policy matches whatever its path. */
  readonly roleName?: string;
  /** `aws:PrincipalArn`: for a role session, the role's ARN, not the session's. */
  readonly principalArn: string;
}

/**
 * Whether `value` is a principal IAM accepts in the AWS key of a Principal element: an account, the
 * account root, a user, role, role session or federated user ARN. Wildcards are refused: IAM does
 * not match part of a principal name or ARN ("You cannot use a wildcard to match part of a principal
 * name or ARN"), so `…:user/*` would match nobody, and a Deny written with it would deny nothing.
 */
export function isAwsPrincipal(value: string): boolean {
  if (/[*?]/.test(value)) return false;
  return [ACCOUNT, ROOT, USER, ROLE, SESSION, FEDERATED].some((re) => re.test(value));
}

// Both parses run on every authorization; principals and policy entries repeat, so they are kept
// (bounded, like the parsed policies in service.ts).
const identities = new Map<string, Identity>();
const entries = new Map<string, Entry>();

function remember<K, V>(m: Map<K, V>, k: K, v: V): V {
  if (m.size >= 1000) m.clear();
  m.set(k, v);
  return v;
}

/** The identity of a caller whose credential names `principalArn` in `account`. */
export function identityOf(principalArn: string, account: string): Identity {
  const key = `${account} ${principalArn}`;
  return identities.get(key) ?? remember(identities, key, parseIdentity(principalArn, account));
}

function parseIdentity(principalArn: string, account: string): Identity {
  let m = SESSION.exec(principalArn);
  if (m) {
    const partition = principalArn.split(':')[1] ?? 'aws';
    return { arn: principalArn, account, type: 'AssumedRole', roleName: m[2] as string, principalArn: `arn:${partition}:iam::${m[1]}:role/${m[2]}` };
  }
  m = ROLE.exec(principalArn);
  // A credential configured with a role ARN acts as a session of that role.
  if (m) return { arn: principalArn, account, type: 'AssumedRole', roleName: m[2] as string, principalArn };
  m = USER.exec(principalArn);
  if (m) return { arn: principalArn, account, type: 'User', userName: m[2] as string, principalArn };
  if (FEDERATED.test(principalArn)) return { arn: principalArn, account, type: 'FederatedUser', principalArn };
  return { arn: principalArn, account, type: 'Account', principalArn };
}

type Link = { readonly kind: 'account'; readonly account: string } | { readonly kind: 'role'; readonly account: string; readonly name: string } | { readonly kind: 'arn'; readonly arn: string };

function chain(id: Identity): Link[] {
  const links: Link[] = [{ kind: 'account', account: id.account }];
  if (id.type === 'Account') return links;
  if (id.roleName !== undefined) links.push({ kind: 'role', account: id.account, name: id.roleName });
  if (id.arn !== id.principalArn || id.roleName === undefined) links.push({ kind: 'arn', arn: id.arn });
  return links;
}

/** A policy principal entry, parsed: the account it names, or the role (account, name) it names. */
interface Entry {
  readonly account?: string;
  readonly role?: readonly [string, string];
}

function entryOf(e: string): Entry {
  const hit = entries.get(e);
  if (hit) return hit;
  const acct = ACCOUNT.test(e) ? e : ROOT.exec(e)?.[1];
  const role = ROLE.exec(e);
  return remember(entries, e, { ...(acct !== undefined ? { account: acct } : {}), ...(role ? { role: [role[1] as string, role[2] as string] as const } : {}) });
}

function names(entry: string, link: Link): boolean {
  switch (link.kind) {
    case 'account':
      return entryOf(entry).account === link.account;
    case 'role': {
      const r = entryOf(entry).role;
      return r !== undefined && r[0] === link.account && r[1] === link.name;
    }
    case 'arn':
      return entry === link.arn;
  }
}

/** Principal: the statement applies when the set names any identity of the caller's chain. */
export function principalNamed(entries: readonly string[], id: Identity): boolean {
  return chain(id).some((link) => entries.some((e) => names(e, link)));
}

/** NotPrincipal: the caller is excluded only when every identity of its chain is named. */
export function everyIdentityNamed(entries: readonly string[], id: Identity): boolean {
  return chain(id).every((link) => entries.some((e) => names(e, link)));
}
