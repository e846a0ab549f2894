import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';

// The screens are served by the Tauri shell from ui/dist (no network, no CDN); `npm run dev`
// serves them on a fixed port for `tauri dev`.
export default defineConfig({
  plugins: [svelte()],
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: {
    // WebKitGTK 2.40+ (Debian 12) and WebView2: both take modern JavaScript.
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    // One small bundle; a source map would only ship the sources twice.
    sourcemap: false,
    chunkSizeWarningLimit: 1024,
  },
});
