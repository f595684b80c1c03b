/**
 * What killed backup runs leave in the folder, as the next run sorts it (lib/backups/leftovers.ts):
 * removed when no running process writes it, left (and said) when one does, other files untouched.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { partialName, processTag, removeLeftovers } from '../lib/backups/leftovers';

let dir: string;
const log: string[] = [];

function file(name: string, ageSeconds = 0): string {
  const full = path.join(dir, name);
  fs.writeFileSync(full, 'x');
  const at = new Date(Date.now() - ageSeconds * 1000);
  fs.utimesSync(full, at, at);
  return name;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-leftovers-'));
  log.length = 0;
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

test('an unfinished dump is named after the process writing it, which no other process can be', () => {
  const mine = partialName('dev-20260101T000000Z.dump');
  expect(mine).toBe(`.dev-20260101T000000Z.dump.${processTag()}.partial`);
  expect(processTag()).toMatch(new RegExp(`^${process.pid}-\\d+$`));
  expect(processTag(process.ppid)).not.toBe(processTag());
});

test('removes what no running process writes, says so, and leaves the rest', () => {
  const exited = spawnSync('true').pid as number;
  const dead = file(`.dev-20260101T000000Z.dump.${exited}-12345.partial`);
  const running = file(`.dev-20260101T000001Z.dump.${processTag(process.ppid)}.partial`);
  const legacyOld = file('.dev-20260101T000002Z.dump.partial', 2 * 24 * 3600);
  const legacyYoung = file('.dev-20260101T000003Z.dump.partial.sha256');
  const checksumTemporary = file('dev-20260101T000004Z.dump.sha256.3141592653', 3600);
  const markerTemporary = file('.last-success.2718281828', 3600);
  const markerBeingWritten = file('.last-success.1618033988');
  const orphanChecksum = file('dev-20260101T000005Z.dump.sha256', 3600);
  const kept = [file('dev-20260101T000006Z.dump'), file('dev-20260101T000006Z.dump.sha256', 3600)];
  const others = [file(`.staging-20260101T000000Z.dump.${exited}-12345.partial`), file('notes.txt', 3600), file('.last-success', 3600), file('dev.sha256.12', 3600)];

  removeLeftovers(dir, 'dev', (line) => log.push(line));

  expect(fs.readdirSync(dir).sort()).toEqual([running, legacyYoung, markerBeingWritten, ...kept, ...others].sort());
  expect(log.sort()).toEqual(
    [
      `removed ${dead}, the unfinished dump of a backup that was stopped before it ended (pid ${exited})`,
      `left ${running} alone: the backup writing it is still running (pid ${process.ppid})`,
      `removed ${legacyOld}, left by a backup that was stopped before it ended`,
      `removed ${checksumTemporary}, a temporary file of a write that was cut short`,
      `removed ${markerTemporary}, a temporary file of a write that was cut short`,
      `removed ${orphanChecksum}, the checksum of a dump (dev-20260101T000005Z.dump) that was never kept`,
    ].sort(),
  );
});
