// Adds lock entries for platform-specific optional dependencies that this workplace's npm registry does not serve
// (e.g. @turbo/darwin-64 answers 404 here). Without an entry, `npm ci` refuses the lock ("Missing: ... from lock
// file"). The stubs carry os/cpu, so npm skips them on Linux and never fetches them. Run after `npm install`:
//   node .ci/lock-stubs.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const pk = lock.packages;
const OS = [['darwin', 'darwin'], ['windows', 'win32'], ['win32', 'win32'], ['linux', 'linux'], ['freebsd', 'freebsd']];
const CPU = [['arm64', 'arm64'], ['x64', 'x64'], ['64', 'x64'], ['ia32', 'ia32']];
const resolve = (from, dep) => {
  let base = from;
  for (;;) {
    const cand = (base ? `${base}/node_modules/` : 'node_modules/') + dep;
    if (cand in pk) return cand;
    if (!base) return undefined;
    const i = base.lastIndexOf('/node_modules/');
    base = i >= 0 ? base.slice(0, i) : '';
  }
};
let added = 0;
for (const [from, entry] of Object.entries(pk)) {
  for (const [dep, version] of Object.entries(entry.optionalDependencies ?? {})) {
    if (resolve(from, dep) !== undefined) continue;
    const leaf = dep.split('/').pop();
    const os = OS.find(([k]) => leaf.includes(k))?.[1];
    const cpu = CPU.find(([k]) => leaf.endsWith(k))?.[1];
    if (os === undefined || cpu === undefined) {
      console.error(`lock-stubs: cannot tell the platform of missing optional dependency ${dep}; add it by hand`);
      process.exitCode = 1;
      continue;
    }
    pk[`node_modules/${dep}`] = { version, dev: entry.dev ?? undefined, optional: true, os: [os], cpu: [cpu] };
    added += 1;
  }
}
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`lock-stubs: added ${added} platform stub(s)`);
