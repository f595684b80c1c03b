import * as fs from 'node:fs';

/** A Dockerfile's text and its instructions: continuation lines joined, blank lines and comments left out. */
export function readDockerfile(file: string): { text: string; instructions: string[] } {
  const text = fs.readFileSync(file, 'utf8');
  const instructions = text
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  return { text, instructions };
}
