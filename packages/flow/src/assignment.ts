/**
 * Exact linear assignment (Hungarian method with row/column potentials and shortest augmenting
 * paths, O(n^3)): used by mini-batch OT coupling and the exact W2 metric.
 */

/** Result of `linearAssignment`. */
export interface Assignment {
  /** colOfRow[i] is the column given to row i. */
  colOfRow: Int32Array;
  /** Sum of the chosen costs. */
  cost: number;
}

/** Minimum-cost perfect matching of an n x n cost matrix given row-major. */
export function linearAssignment(cost: ArrayLike<number>, n: number): Assignment {
  if (!Number.isInteger(n) || n < 1) throw new Error(`n must be a positive integer, got ${n}`);
  if (cost.length !== n * n) throw new Error(`cost must hold n * n = ${n * n} values, got ${cost.length}`);
  for (let k = 0; k < cost.length; k++) {
    if (!Number.isFinite(cost[k])) throw new Error(`cost[${k}] must be finite, got ${cost[k]}`);
  }
  // 1-based arrays; index 0 is a virtual column / row used to start each augmentation.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const rowOfCol = new Int32Array(n + 1);
  const way = new Int32Array(n + 1);
  const minv = new Float64Array(n + 1);
  const used = new Uint8Array(n + 1);
  for (let i = 1; i <= n; i++) {
    rowOfCol[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = rowOfCol[j0]!;
      let delta = Infinity;
      let j1 = 0;
      const base = (i0 - 1) * n;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = cost[base + j - 1]! - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          const r = rowOfCol[j]!;
          u[r] = u[r]! + delta;
          v[j] = v[j]! - delta;
        } else {
          minv[j] = minv[j]! - delta;
        }
      }
      j0 = j1;
    } while (rowOfCol[j0] !== 0);
    // Flip the augmenting path.
    do {
      const j1 = way[j0]!;
      rowOfCol[j0] = rowOfCol[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const colOfRow = new Int32Array(n);
  let total = 0;
  for (let j = 1; j <= n; j++) {
    const r = rowOfCol[j]! - 1;
    colOfRow[r] = j - 1;
    total += cost[r * n + j - 1]!;
  }
  return { colOfRow, cost: total };
}

/** Squared Euclidean cost matrix between rows of a [n, d] and b [m, d] (row-major). */
export function squaredDistances(a: ArrayLike<number>, b: ArrayLike<number>, d: number): Float64Array {
  if (!Number.isInteger(d) || d < 1) throw new Error(`d must be a positive integer, got ${d}`);
  if (a.length % d !== 0 || b.length % d !== 0) {
    throw new Error(`a and b lengths (${a.length}, ${b.length}) must be multiples of d = ${d}`);
  }
  const n = a.length / d;
  const m = b.length / d;
  if (n * m > 1e8) throw new Error(`squaredDistances: a and b have ${n} and ${m} rows, more than 1e8 pairs; subsample`);
  const out = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) {
        const diff = a[i * d + k]! - b[j * d + k]!;
        s += diff * diff;
      }
      out[i * m + j] = s;
    }
  }
  return out;
}
