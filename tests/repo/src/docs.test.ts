import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './workspace.js';

/** Text files git tracks (and new ones it does not ignore), relative to the root. */
const tracked = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((f) => /\.(ts|mts|js|mjs|md|json|sh|py)$|^\.ci\/|^\.npmrc$/.test(f) && existsSync(join(ROOT, f)));

/** GitHub's anchor of a Markdown heading. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const text = readFileSync(join(ROOT, file), 'utf8');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1] ?? '')));
}

describe('the repository stands on its own', () => {
  it('reads the tracked files (a broken listing would pass the checks below vacuously)', () => {
    expect(tracked).toContain('README.md');
    expect(tracked.length).toBeGreaterThan(100);
  });

  it('points nowhere outside itself: no private project notes, and the shared folder beside CI clones only for test fixtures', () => {
    // Built from pieces so that this file does not match itself.
    const notes = new RegExp(['SCI', 'ENCE(\\.md)?\\b|PLAT', 'FORM\\.md|STY', 'LE\\.md'].join(''));
    const shared = /\.\.\/shared\b/;
    const testFile = (f: string) => /\.test\.ts$|\/test\//.test(f);
    const found: string[] = [];
    for (const f of tracked) {
      readFileSync(join(ROOT, f), 'utf8').split('\n').forEach((line, i) => {
        if (notes.test(line) || (shared.test(line) && !testFile(f))) found.push(`${f}:${i + 1}: ${line.trim().slice(0, 120)}`);
      });
    }
    expect(found).toEqual([]);
  });

  it('has the docs that comments point to, and every docs/<file>.md#anchor pointer names a heading there', () => {
    const anchors = new Map<string, Set<string>>();
    const broken: string[] = [];
    let pointers = 0;
    for (const f of tracked) {
      const text = readFileSync(join(ROOT, f), 'utf8');
      for (const m of text.matchAll(/docs\/([a-z-]+\.md)(#[\p{L}\p{N}_-]+)?/gu)) {
        const doc = `docs/${m[1] ?? ''}`;
        pointers++;
        if (!existsSync(join(ROOT, doc))) {
          broken.push(`${f}: ${m[0]} (no such file)`);
          continue;
        }
        if (m[2] === undefined) continue;
        if (!anchors.has(doc)) anchors.set(doc, anchorsOf(doc));
        if (!anchors.get(doc)?.has(m[2].slice(1))) broken.push(`${f}: ${m[0]} (no such heading)`);
      }
    }
    expect(pointers).toBeGreaterThan(40);
    expect(broken).toEqual([]);
  });
});
