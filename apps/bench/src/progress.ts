/** A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise. */
export function createProgress(enabled: boolean): (label: string, done: number, total: number) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = '';
  let lastDecile = -1;
  return (label, done, total) => {
    if (!enabled || total <= 0) return;
    const frac = Math.min(1, Math.max(0, done / total));
    if (tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      const line = `  ${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`;
      if (line !== lastLine) process.stderr.write(`\r${line.padEnd(lastLine.length)}`);
      lastLine = line;
      if (done >= total) {
        process.stderr.write('\n');
        lastLine = '';
      }
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== lastDecile || done >= total) {
        if (done >= total || decile > lastDecile) process.stderr.write(`  ${label}: ${done}/${total}\n`);
        lastDecile = done >= total ? -1 : decile;
      }
    }
  };
}
