import type { Command } from 'commander';
import { plural } from '../../lib/text';
import { BASELINE_FILE, EXCEPTION_FORM, formatFinding, lintMigrations, writeBaseline, type Finding } from '../../lib/migrations/lint';
import { EXIT, nonEmpty, progress, say, userPath } from '../program';

/** Per baseline migration with findings: `0001_schema (identifier-too-long ×3, require-lock-timeout)`. */
function baselineSummary(findings: Finding[]): string[] {
  const byMigration = new Map<string, Map<string, number>>();
  for (const f of findings) {
    const rules = byMigration.get(f.migration) ?? new Map<string, number>();
    rules.set(f.rule, (rules.get(f.rule) ?? 0) + 1);
    byMigration.set(f.migration, rules);
  }
  return [...byMigration].map(([name, rules]) => `${name} (${[...rules].map(([rule, n]) => (n > 1 ? `${rule} ×${n}` : rule)).join(', ')})`);
}

export function registerLint(program: Command): void {
  program
    .command('lint')
    .summary('lint the migrations for what locks or breaks a live database (no database)')
    .description(
      'Runs squawk over the migrations (schema/migrations) with the rules of .squawk.toml: an index\n' +
        'built without CONCURRENTLY on an existing table, NOT NULL without a default, a column type\n' +
        "change, a rename, a constraint added without NOT VALID, a missing lock_timeout, and squawk's\n" +
        'other rules. Prints each finding as FILE:LINE: RULE: MESSAGE (HELP). Needs no database.\n\n' +
        `The migrations a release has applied are the baseline (${BASELINE_FILE} beside them: the name\n` +
        'and sha256 of each). Their findings are summarised and do not fail; one whose file has changed\n' +
        'is linted as new. Every other migration must pass, or except a finding in a line comment on the\n' +
        `line above the line the finding names, naming the rule and why it is safe:\n  ${EXCEPTION_FORM}\n\n` +
        `Exit status ${EXIT.failed} when a migration outside the baseline has a finding.`,
    )
    .option('--json', 'print the result as JSON: { ok, findings, baselineFindings, baselined, notes }, each finding { migration, file, line, column, rule, message, help }')
    .option('--update-baseline', `record every migration as applied already, in ${BASELINE_FILE} (after a release has applied them), then lint`)
    .option('--dir <folder>', 'the migrations folder (default: schema/migrations)', nonEmpty)
    .option(
      '--base-ref <revision>',
      'the git revision a change merges into (a pull request check: origin/main): a baseline entry counts only where that revision has the migration, so a change cannot baseline its own',
      nonEmpty,
    )
    .action(async (o: { json?: boolean; updateBaseline?: boolean; dir?: string; baseRef?: string }) => {
      const log = progress(Boolean(o.json));
      const dir = o.dir === undefined ? undefined : userPath(o.dir);
      if (o.updateBaseline) {
        const written = writeBaseline(dir);
        log(`recorded ${plural(written.migrations.length, 'migration')} as the baseline in ${written.file} (the newest: ${written.migrations.at(-1) ?? 'none'}); commit it.`);
      }
      const result = await lintMigrations({ dir, baseRef: o.baseRef });
      const ok = result.findings.length === 0;
      if (!ok) process.exitCode = EXIT.failed;
      if (o.json) {
        const { findings, baselineFindings, baselined, notes, migrations, baselineFile } = result;
        say(JSON.stringify({ ok, migrations, baselineFile, baselined, findings, baselineFindings, notes }, null, 2));
        return;
      }
      for (const note of result.notes) say(`note: ${note}`);
      for (const f of result.findings) say(formatFinding(f));
      if (result.baselineFindings.length > 0) {
        say(`baseline, not failing: ${plural(result.baselineFindings.length, 'finding')} in migrations a release has applied: ${baselineSummary(result.baselineFindings).join('; ')}.`);
      }
      const fresh = result.migrations.length - result.baselined.length;
      if (ok) {
        say(`${plural(result.migrations.length, 'migration')} linted (${result.baselined.length} in the baseline, ${fresh} new): nothing that fails.`);
      } else {
        const failing = new Set(result.findings.map((f) => f.migration)).size;
        say(
          `${plural(result.findings.length, 'finding')} in ${plural(failing, 'migration')} outside the baseline: change the migration, or except the finding ` +
            `in a line comment on the line above the line it names, naming the rule and why it is safe: ${EXCEPTION_FORM}`,
        );
      }
    });
}
