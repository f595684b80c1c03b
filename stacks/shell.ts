/** Words for the deployment steps' `/bin/sh -c`, each single-quoted: names in them come from config. */
export const shellWords = (words: string[]): string => words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
