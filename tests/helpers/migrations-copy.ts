import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { migrationsPath } from '../../common/paths';

interface Journal {
  entries: { idx: number; version: string; when: number; tag: string; breakpoints: boolean }[];
}

/** A scratch copy of the committed migrations folder, to add, edit or remove migrations in. */
export class MigrationsCopy {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pa-migrations-'));

  constructor() {
    fs.cpSync(migrationsPath, this.dir, { recursive: true });
  }

  private get journalPath(): string {
    return path.join(this.dir, 'meta', '_journal.json');
  }

  journal(): Journal {
    return JSON.parse(fs.readFileSync(this.journalPath, 'utf8')) as Journal;
  }

  private writeJournal(journal: Journal): void {
    fs.writeFileSync(this.journalPath, JSON.stringify(journal, null, 2));
  }

  /** Appends a migration; `when` defaults to one second after the newest. */
  add(tag: string, sql: string, when?: number): this {
    const journal = this.journal();
    const last = journal.entries[journal.entries.length - 1];
    journal.entries.push({ idx: last.idx + 1, version: last.version, when: when ?? last.when + 1000, tag, breakpoints: true });
    this.writeJournal(journal);
    fs.writeFileSync(path.join(this.dir, `${tag}.sql`), sql);
    return this;
  }

  edit(tag: string, change: (sql: string) => string): this {
    const file = path.join(this.dir, `${tag}.sql`);
    fs.writeFileSync(file, change(fs.readFileSync(file, 'utf8')));
    return this;
  }

  /** Removes a migration's file and its journal entry, as deleting it by hand would. */
  remove(tag: string): this {
    const journal = this.journal();
    journal.entries = journal.entries.filter((e) => e.tag !== tag);
    this.writeJournal(journal);
    fs.rmSync(path.join(this.dir, `${tag}.sql`));
    return this;
  }

  cleanup(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
