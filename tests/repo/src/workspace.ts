import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tests/repo/src/workspace.ts). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The fields of a package.json these checks read. */
export interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly private?: boolean;
  readonly license?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
  readonly workspaces?: readonly string[];
}

/** A workspace: its folder (relative to the root) and its package.json. */
export interface Workspace {
  readonly dir: string;
  readonly pkg: PackageJson;
}

/** Reads a JSON file under the root. */
export function readJson<T>(relative: string): T {
  return JSON.parse(readFileSync(join(ROOT, relative), 'utf8')) as T;
}

/** Every workspace named by the root package.json (globs of the form `folder/*`). */
export function workspaces(): Workspace[] {
  const root = readJson<PackageJson>('package.json');
  return (root.workspaces ?? []).flatMap((glob) => {
    const parent = glob.replace(/\/\*$/, '');
    return readdirSync(join(ROOT, parent))
      .map((d) => `${parent}/${d}`)
      .filter((dir) => existsSync(join(ROOT, dir, 'package.json')))
      .map((dir) => ({ dir, pkg: readJson<PackageJson>(`${dir}/package.json`) }));
  });
}

/** Every dependency entry of a package.json, with the field it is in. */
export function dependencyEntries(pkg: PackageJson): { field: string; name: string; range: string }[] {
  const fields = ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies'] as const;
  return fields.flatMap((field) => Object.entries(pkg[field] ?? {}).map(([name, range]) => ({ field, name, range })));
}
