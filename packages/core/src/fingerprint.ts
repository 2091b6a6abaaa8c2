import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// A stage's cache key hashes its name, version, options and inputs, and the fingerprint of the code that computes it:
// the package that defines the stage, with every @bitlens package it depends on and the installed versions of their
// third-party dependencies. So an edited computation never silently reuses a result stored by the old code, even when
// nobody bumped the stage's `version`. What invalidates what (also in the README):
// - any change of the code that runs (outside tests) in the defining package — its `dist/` when the stage is loaded from
//   the build, its `src/` when loaded from the sources (tests) — or in a @bitlens package it depends on (their builds,
//   transitively) invalidates every stage of that package and everything downstream of them in a graph;
// - a change of the installed version of a dependency of those packages (e.g. @tensorflow/tfjs-core) does the same;
// - nothing else does: paths, timestamps and the machine do not enter the fingerprint, so two checkouts of the same
//   code on two machines compute the same keys (the sweep's workers rely on that).

/** The fingerprint of the code of one package: a SHA-256 hex digest. */
export type CodeFingerprint = string;

const packageRootCache = new Map<string, string | undefined>();
const fingerprintCache = new Map<string, CodeFingerprint>();

/** The folder of the nearest package.json above `path` (a file or folder), or undefined. */
export function packageRootOf(path: string): string | undefined {
  let dir = path;
  try {
    if (!statSync(dir).isDirectory()) dir = dirname(dir);
  } catch {
    dir = dirname(dir);
  }
  const seen: string[] = [];
  let found: string | undefined;
  for (;;) {
    const cached = packageRootCache.get(dir);
    if (cached !== undefined || packageRootCache.has(dir)) {
      found = cached;
      break;
    }
    seen.push(dir);
    if (existsSync(join(dir, 'package.json'))) {
      found = dir;
      break;
    }
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  for (const d of seen) packageRootCache.set(d, found);
  return found;
}

function isCodeFile(rel: string): boolean {
  return !/\.(test|test-d|bench)\.[cm]?[jt]s$/.test(rel) && !rel.endsWith('.map') && !rel.endsWith('.tsbuildinfo');
}

function listFiles(root: string, dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) listFiles(root, full, out);
    else if (entry.isFile()) {
      const rel = relative(root, full).split(sep).join('/');
      if (isCodeFile(rel)) out.push(rel);
    }
  }
}

interface PackageJson {
  readonly name?: string;
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, string>>;
}

function readPackageJson(root: string): PackageJson {
  try {
    return JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return {};
  }
}

/** The root of an installed dependency `name` as seen from package `root` (node_modules lookup, links resolved). */
function dependencyRoot(root: string, name: string): string | undefined {
  for (let dir = root; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The fingerprint of the code in the package at `root`: the files of its code folder `codeDir` (default: `dist/`, the
 * build other packages import, else `src/`; tests excluded), its name and version, the installed version of each
 * third-party dependency and the fingerprint of each @bitlens dependency's build. Cached per process.
 */
export function packageFingerprint(root: string, codeDir?: string): CodeFingerprint {
  const key = realpathSync(root);
  const dir = codeDir ?? (existsSync(join(key, 'dist')) ? 'dist' : existsSync(join(key, 'src')) ? 'src' : undefined);
  const cacheKey = `${key}\0${dir ?? ''}`;
  const cached = fingerprintCache.get(cacheKey);
  if (cached !== undefined) return cached;
  const h = createHash('sha256');
  const pkg = readPackageJson(key);
  h.update(`package ${pkg.name ?? '?'}@${pkg.version ?? '?'}\n`);
  const present = dir !== undefined && existsSync(join(key, dir)) ? dir : undefined;
  if (present !== undefined) {
    const files: string[] = [];
    // The code may be a folder (src/, dist/) or a single file beside package.json (a script defining its own stages).
    if (statSync(join(key, present)).isFile()) files.push(present);
    else listFiles(key, join(key, present), files);
    for (const rel of files.sort()) {
      h.update(`file ${rel}\n`);
      h.update(readFileSync(join(key, rel)));
      h.update('\n');
    }
  }
  for (const dep of Object.keys(pkg.dependencies ?? {}).sort()) {
    const depRoot = dependencyRoot(key, dep);
    if (depRoot === undefined) h.update(`dep ${dep} missing\n`);
    else if (dep.startsWith('@bitlens/')) h.update(`dep ${dep} ${packageFingerprint(depRoot)}\n`);
    else h.update(`dep ${dep}@${readPackageJson(depRoot).version ?? '?'}\n`);
  }
  const digest = h.digest('hex');
  fingerprintCache.set(cacheKey, digest);
  return digest;
}

/** Forgets cached fingerprints (tests that edit code on disk). @internal */
export function clearFingerprintCache(): void {
  fingerprintCache.clear();
  packageRootCache.clear();
}

const CORE_ROOT = packageRootOf(fileURLToPath(import.meta.url));
const FRAME_RE = /(?:file:\/\/)?(\/[^\s():]+):\d+:\d+\)?$/;

/**
 * The package whose code called a `define*` function of core, and the folder of that code (`dist`, `src`, ...): the
 * first stack frame outside core's own `src/` or `dist/` code (a stage defined in core's tests belongs to core).
 * Undefined when no frame names a file.
 * @internal
 */
export function callerCode(): { readonly root: string; readonly dir: string | undefined } | undefined {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 30;
  const stack = new Error().stack ?? '';
  Error.stackTraceLimit = limit;
  const ownCode = CORE_ROOT === undefined ? [] : [join(CORE_ROOT, 'src') + sep, join(CORE_ROOT, 'dist') + sep];
  for (const line of stack.split('\n').slice(1)) {
    const m = FRAME_RE.exec(line.trim());
    const file = m?.[1];
    if (file === undefined || file.includes(`${sep}node_modules${sep}rxjs${sep}`)) continue;
    if (ownCode.some((p) => file.startsWith(p)) && !/\.test\.[cm]?[jt]s$/.test(file)) continue; // core's own define* code
    const root = packageRootOf(file);
    if (root === undefined) return undefined;
    return { root, dir: relative(root, file).split(sep)[0] };
  }
  return CORE_ROOT === undefined ? undefined : { root: CORE_ROOT, dir: undefined };
}

/** The fingerprint of the code that is defining a stage right now (see {@link callerCode}). @internal */
export function callerFingerprint(): CodeFingerprint {
  const code = callerCode();
  return code === undefined ? 'unknown' : packageFingerprint(code.root, code.dir);
}
