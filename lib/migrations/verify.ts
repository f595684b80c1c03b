import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from 'pg';
import { migrationsPath, ROOT } from '../../common/paths';
import { UserFacingError } from '../postgres/connection';
import { catalogJson, compareCatalogs, readCatalog, type Catalog, type Difference } from '../postgres/catalog';
import { compareGrants, databaseOwner, stackRolesOf, type RoleNames } from '../postgres/grants';

/**
 * `db:verify`: the live database against what the committed migrations produce. What they produce
 * is recorded in schema/migrations/catalog.json, the catalog of a database the migrations alone
 * built; tests/verify.test.ts migrates a fresh database and fails when the file differs from its
 * catalog, so the file cannot go stale. Verify itself then only reads the live database: it needs
 * no scratch database (and no CREATE DATABASE right).
 */

export const EXPECTED_CATALOG_FILE = 'catalog.json';
export const expectedCatalogPath = (dir = migrationsPath) => path.join(dir, EXPECTED_CATALOG_FILE);

/** The catalog the committed migrations produce, as recorded. */
export function readExpectedCatalog(file = expectedCatalogPath()): Catalog {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UserFacingError(
      `cannot read the expected catalog ${path.relative(ROOT, file)}: ${(error as Error).message}. ` +
        'Restore it from version control, or write it from a freshly migrated scratch database: npm run db:verify -- --write-expected',
    );
  }
  return JSON.parse(text) as Catalog;
}

export function writeExpectedCatalog(catalog: Catalog, file = expectedCatalogPath()): void {
  fs.writeFileSync(file, catalogJson(catalog));
}

export interface VerifyOptions {
  /** Each query's bound, in seconds. */
  queryTimeoutSeconds: number;
  /** The expected catalog; by default the committed one. */
  expected?: Catalog;
  /** The stack's role names; by default derived from the database's owner (lib/postgres/grants.ts). */
  roles?: RoleNames;
}

export interface VerifyResult {
  /** The stack's roles the grants were checked for, or undefined when the owner is no stack's migrator. */
  roles: RoleNames | undefined;
  owner: string;
  differences: Difference[];
}

/** Every difference between the live database and the expected catalog, its grants included. */
export async function verifyDatabase(client: Client, options: VerifyOptions): Promise<VerifyResult> {
  const expected = options.expected ?? readExpectedCatalog();
  const actual = await readCatalog(client, options);
  const differences = compareCatalogs(expected, actual);
  const owner = await databaseOwner(client, options.queryTimeoutSeconds);
  const roles = options.roles ?? stackRolesOf(owner);
  if (roles) {
    differences.push(...(await compareGrants(client, expected, actual, roles, options.queryTimeoutSeconds)));
  } else {
    differences.push({
      kind: 'role',
      name: owner,
      problem: 'unexpected',
      message: `role ${owner}: owns the database but is no stack's migrator (pa_migrator or pa_<namespace>_migrator), so the grants could not be checked`,
    });
  }
  return { roles, owner, differences };
}
