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
  /** "<provider URN>::<provider id>", or '' for the package's default provider. */
  provider: string;
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
  replaceOnChanges: string[];
  /** The resource option, where the program set it. */
  deleteBeforeReplace?: boolean;
  /** The `import` resource option: '' unless the program adopts an existing object. */
  importId: string;
  /** Set once the (mock) engine has answered the registration. */
  urn: string;
}
export function installMocks(
  pulumi: typeof import('@pulumi/pulumi'),
  project: string,
  stack: string,
): { declared: Declared[]; generated: string[] };
export function walk(raw: unknown, visit: (text: string, inSecret: boolean) => void): void;
export function plain(raw: unknown): any;
