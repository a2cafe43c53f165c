import { main } from './cli.js';

// The entry point of `blockwise-bench` / `npm run bench` (and of the GPU bundle).
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
