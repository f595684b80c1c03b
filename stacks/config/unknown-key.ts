import { CONFIG_KEYS, type ConfigKey } from './keys';

/** The message for a key the table does not have, with the key it most likely meant. */
export function unknownKey(key: string, value: string): string {
  // `pulumi config set --path postgres.memroyMb` arrives as an object under "postgres".
  let paths = [key];
  try {
    const parsed: unknown = JSON.parse(value);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) paths = Object.keys(parsed).map((k) => `${key}.${k}`);
  } catch {
    // a plain string value
  }
  const guesses = paths.map(closestKey).filter((g): g is ConfigKey => g !== undefined);
  const hint = guesses.length > 0 ? ` Did you mean ${[...new Set(guesses)].join(' or ')}?` : '';
  return `${key}: unknown key.${hint} Remove it with \`pulumi config rm ${key}\`; README lists every key.`;
}

function closestKey(name: string): ConfigKey | undefined {
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  let best: ConfigKey | undefined;
  let bestDistance = Infinity;
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const d = editDistance(norm(name), norm(key));
    if (d < bestDistance) [best, bestDistance] = [key, d];
  }
  return bestDistance <= Math.max(2, Math.floor(norm(name).length / 4)) ? best : undefined;
}

/** Optimal string alignment distance: a swapped pair of letters counts as one edit. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
