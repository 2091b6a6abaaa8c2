// Builds dist/tfjs-gradients.js: tfjs-core's gradient registrations and chained tensor methods (`x.square()`), the two
// things the `@tensorflow/tfjs` umbrella adds to tfjs-core that bitlens needs (tfjs-core alone registers no gradient, so
// `tf.grad` would throw). tfjs-core ships them only as extensionless ES modules that Node cannot import, so they are
// bundled here, as the umbrella's own Node build does. They register into tfjs's process-wide registries
// (globalThis._tfGlobals, the one engine), so they serve the tfjs-core that @bitlens/engine loads.
// The bundle exports tfjs-core's version; the engine refuses a bundle built from another version.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const pkgDir = fileURLToPath(new URL('..', import.meta.url));
await build({
  stdin: {
    contents: [
      "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
      "import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';",
      "export { version } from '@tensorflow/tfjs-core/dist/version';",
    ].join('\n'),
    resolveDir: pkgDir,
    sourcefile: 'tfjs-gradients-entry.js',
    loader: 'js',
  },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  outfile: `${pkgDir}/dist/tfjs-gradients.js`,
  legalComments: 'eof', // keeps tfjs's Apache-2.0 notices
  logLevel: 'warning',
});
