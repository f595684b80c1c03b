/**
 * hashicorp/awspolicyequivalence v1.6.0 (aws_policy_equivalence.go, PoliciesAreEquivalent), which
 * the MinIO provider uses to keep a declared policy in state when what the server returns is
 * equivalent (resource_minio_s3_bucket_policy.go secondJSONUnlessEquivalent; resource_minio_iam_policy.go
 * suppressEquivalentAwsPolicyDiffs): a port of the parts a policy of this project can reach (no
 * NotPrincipal, no account-ID principals), so that a test can tell whether a policy read back from a
 * real MinIO shows a diff.
 */

type Json = Record<string, unknown>;

/** newStringSet: a string, a boolean, a number or a list of them; undefined for anything else. */
function stringSet(members: unknown): string[] | undefined {
  if (members === undefined || members === null) return [];
  const one = (v: unknown) => (typeof v === 'string' ? v : typeof v === 'boolean' || typeof v === 'number' ? String(v) : undefined);
  if (!Array.isArray(members)) {
    const v = one(members);
    return v === undefined ? undefined : [v];
  }
  const out = members.map(one);
  return out.includes(undefined) ? undefined : (out as string[]);
}

/** stringSlicesEqualIgnoreOrder over newStringSet; stringSet.equals (a set) for conditions. */
const sameList = (a: unknown, b: unknown) => {
  const [x, y] = [stringSet(a), stringSet(b)];
  return !!x && !!y && x.length === y.length && [...x].sort().join('\0') === [...y].sort().join('\0');
};
const sameSet = (a: unknown, b: unknown) => {
  const [x, y] = [stringSet(a), stringSet(b)];
  return !!x && !!y && x.length === y.length && new Set(x).size === new Set(y).size && x.every((v) => y.includes(v));
};

function conditionsEqual(a: unknown, b: unknown): boolean {
  if ((a === undefined) !== (b === undefined)) return false;
  const [x, y] = [(a ?? {}) as Record<string, Json>, (b ?? {}) as Record<string, Json>];
  if (Object.keys(x).length !== Object.keys(y).length) return false;
  const oneWay = (p: Record<string, Json>, q: Record<string, Json>) =>
    Object.entries(p).every(([op, inner]) => q[op] !== undefined && Object.entries(inner).every(([k, v]) => q[op][k] !== undefined && sameSet(v, q[op][k])));
  return oneWay(x, y) && oneWay(y, x);
}

/** stringPrincipalsEqual, or mapPrincipalsEqual (key by key, each a set of principals). */
function principalsEqual(a: unknown, b: unknown): boolean {
  if (typeof a === 'string' && typeof b === 'string') return a === b;
  const normalized = (p: unknown) =>
    p && typeof p === 'object' && !Array.isArray(p)
      ? Object.fromEntries(Object.entries(p as Json).map(([k, v]) => [k, stringSet(v) ?? []]).filter(([, v]) => (v as string[]).length > 0))
      : {};
  const [x, y] = [normalized(a), normalized(b)] as Record<string, string[]>[];
  const oneWay = (p: Record<string, string[]>, q: Record<string, string[]>) =>
    Object.entries(p).every(([k, v]) => q[k] !== undefined && v.length === q[k].length && v.every((s) => q[k].includes(s)));
  return oneWay(x, y) && oneWay(y, x);
}

function statementsEqual(a: Json, b: Json): boolean {
  if ((a.Sid ?? '') !== (b.Sid ?? '')) return false;
  if (String(a.Effect ?? '').toLowerCase() !== String(b.Effect ?? '').toLowerCase()) return false;
  for (const key of ['Action', 'NotAction', 'Resource', 'NotResource']) if (!sameList(a[key], b[key])) return false;
  if (!conditionsEqual(a.Condition, b.Condition)) return false;
  if ((a.Principal !== undefined || b.Principal !== undefined) && !principalsEqual(a.Principal, b.Principal)) return false;
  if (a.NotPrincipal !== undefined || b.NotPrincipal !== undefined) throw new Error('NotPrincipal is not modelled here');
  return true;
}

export function policiesAreEquivalent(policy1: string, policy2: string): boolean {
  const parse = (text: string): { Version?: string; Id?: string; Statement: Json[] } => {
    const doc = JSON.parse(text.trim() || '{}') as Json;
    const statement = doc.Statement === undefined ? [] : Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
    return { Version: doc.Version as string | undefined, Id: doc.Id as string | undefined, Statement: statement as Json[] };
  };
  const [x, y] = [parse(policy1), parse(policy2)];
  if ((x.Version ?? '') !== (y.Version ?? '') || (x.Id ?? '') !== (y.Id ?? '') || x.Statement.length !== y.Statement.length) return false;
  return x.Statement.every((s) => y.Statement.some((t) => statementsEqual(s, t))) && y.Statement.every((t) => x.Statement.some((s) => statementsEqual(t, s)));
}
