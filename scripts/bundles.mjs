// Bundles built after tsc (`npm run build`): @walcast/client (packages/client/dist: the
// SDK and its React hooks from the same source as walcast/client, with its one library
// inside, minified) and the React demo page's script (dist/embedded/react-demo.js).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const packageDir = path.join(root, 'packages/client');

rmSync(path.join(packageDir, 'dist'), { recursive: true, force: true });
await build({
  input: { index: path.join(root, 'src/client/index.ts'), react: path.join(root, 'src/react/index.ts') },
  external: ['react'],
  platform: 'browser',
  output: { dir: path.join(packageDir, 'dist'), format: 'esm', minify: true, sourcemap: true, entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js' },
  logLevel: 'warn',
});
execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(packageDir, 'tsconfig.json')], { stdio: 'inherit' });

// The demo bundles React (the page must run from the server alone, without a CDN).
await build({
  input: path.join(root, 'src/embedded/react-demo-app.js'),
  platform: 'browser',
  resolve: { alias: { 'walcast/client': path.join(root, 'src/client/index.ts'), 'walcast/react': path.join(root, 'src/react/index.ts') } },
  transform: { define: { 'process.env.NODE_ENV': '"production"' } },
  output: { file: path.join(root, 'dist/embedded/react-demo.js'), format: 'esm', minify: true },
  logLevel: 'warn',
});
