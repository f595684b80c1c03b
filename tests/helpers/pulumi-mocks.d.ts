export interface Declared {
  type: string;
  name: string;
  custom: boolean;
  parent: string;
  /** Inputs as serialized for the engine: secrets still wrapped. */
  raw: Record<string, unknown>;
  protect: boolean;
  retainOnDelete: boolean;
  dependencies: string[];
}
export function installMocks(
  pulumi: typeof import('@pulumi/pulumi'),
  project: string,
  stack: string,
): { declared: Declared[]; generated: string[] };
export function walk(raw: unknown, visit: (text: string, inSecret: boolean) => void): void;
export function plain(raw: unknown): any;
