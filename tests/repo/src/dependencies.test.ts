import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type PackageJson, ROOT, dependencyEntries, readJson, workspaces } from './workspace.js';

interface LockEntry {
  readonly version?: string;
  readonly peer?: boolean;
  readonly link?: boolean;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly optionalDependencies?: Readonly<Record<string, string>>;
}
const lock = readJson<{ packages: Record<string, LockEntry> }>('package-lock.json').packages;
const all = workspaces();

describe('internal dependencies', () => {
  const versions = new Map(all.map((w) => [w.pkg.name, w.pkg.version]));

  it('are written as the exact version of the package they name (not "*"), so a release pins its siblings', () => {
    const wrong: string[] = [];
    for (const w of all) {
      for (const d of dependencyEntries(w.pkg)) {
        if (!d.name.startsWith('@bitlens/')) continue;
        const want = versions.get(d.name);
        if (d.range !== want) wrong.push(`${w.dir}/package.json ${d.field}["${d.name}"]: expected "${want ?? '(no such workspace)'}", found "${d.range}"`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('exist: the check above reads every workspace (a glob that matched nothing would pass it vacuously)', () => {
    expect(all.length).toBeGreaterThanOrEqual(20);
    expect(versions.get('@bitlens/core')).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('third-party dependencies', () => {
  it('do not include the @tensorflow/tfjs umbrella (tfjs-core and the backends are enough)', () => {
    const umbrella = all.flatMap((w) => dependencyEntries(w.pkg).filter((d) => d.name === '@tensorflow/tfjs').map(() => w.dir));
    expect(umbrella).toEqual([]);
    expect(Object.keys(lock).filter((k) => k.endsWith('node_modules/@tensorflow/tfjs'))).toEqual([]);
  });

  it('are installed once each where identity matters (Arrow compares schemas with instanceof; one tfjs engine)', () => {
    const single = (name: string) => name.startsWith('@tensorflow/') || name === 'apache-arrow' || name === 'rxjs';
    const copies = new Map<string, string[]>();
    for (const [path, entry] of Object.entries(lock)) {
      const name = path.split('node_modules/').pop() ?? '';
      if (!path.includes('node_modules/') || entry.link === true || !single(name)) continue;
      copies.set(name, [...(copies.get(name) ?? []), `${path}@${entry.version ?? '?'}`]);
    }
    expect(copies.size).toBeGreaterThanOrEqual(6); // tfjs-core, 3 backends, arrow, rxjs
    const nested = [...copies.values()].filter((paths) => paths.length > 1);
    expect(nested).toEqual([]);
  });

  it('left out of the default install (peer-only, omitted by .npmrc) are exactly gpu.js and what it pulls in', () => {
    // Everything reachable from gpu.js in the lock; a peer-only package outside it would silently vanish from a
    // default install that needs it.
    const resolve = (from: string, dep: string): string | undefined => {
      for (let base = from; ; ) {
        const candidate = `${base === '' ? '' : `${base}/`}node_modules/${dep}`;
        if (candidate in lock) return candidate;
        if (base === '') return undefined;
        const i = base.lastIndexOf('/node_modules/');
        base = i >= 0 ? base.slice(0, i) : '';
      }
    };
    const reach = new Set<string>();
    const stack = ['node_modules/gpu.js'];
    for (let path = stack.pop(); path !== undefined; path = stack.pop()) {
      if (reach.has(path)) continue;
      reach.add(path);
      const e = lock[path];
      for (const dep of Object.keys({ ...e?.dependencies, ...e?.optionalDependencies })) {
        const r = resolve(path, dep);
        if (r !== undefined) stack.push(r);
      }
    }
    const peerOnly = Object.entries(lock).filter(([, e]) => e.peer === true).map(([k]) => k);
    expect(peerOnly).toContain('node_modules/gpu.js');
    expect(peerOnly.filter((k) => !reach.has(k))).toEqual([]);
  });
});

describe('licence', () => {
  it('is Apache-2.0: the LICENSE file at the root, and "license" in the root and every workspace package.json', () => {
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^\s*Apache License\s+Version 2\.0, January 2004/);
    const missing = [{ dir: '.', pkg: readJson<PackageJson>('package.json') }, ...all]
      .filter((w) => w.pkg.license !== 'Apache-2.0')
      .map((w) => `${w.dir}/package.json: expected "license": "Apache-2.0", found ${JSON.stringify(w.pkg.license)}`);
    expect(missing).toEqual([]);
  });
});
