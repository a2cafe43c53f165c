import { main } from './cli.js';

// The entry point of `blockwise-bench` / `npm run bench` (and of the GPU bundle).
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    // main() reports its own errors; this is a last resort, still one line unless --debug.
    if (process.argv.includes('--debug')) console.error(e);
    else console.error(`blockwise-bench: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    process.exit(1);
  },
);
