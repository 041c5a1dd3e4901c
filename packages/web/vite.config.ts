import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { staticAssetsPlugin } from './assets-plugin.js';

export default defineConfig({
  base: './',
  resolve: { alias: { pngjs: fileURLToPath(new URL('./src/pngjs-stub.ts', import.meta.url)) } },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  plugins: [staticAssetsPlugin()],
});
