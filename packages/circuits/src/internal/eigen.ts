/**
 * Top eigenpairs of a symmetric `n x n` matrix (cyclic Jacobi; n is at most a few hundred here).
 * Returns eigenvalues in descending order with unit eigenvectors.
 * @internal
 */
export function topEigenvectors(sym: Float64Array, n: number, count: number): { values: number[]; vectors: Float64Array[] } {
  const A = Float64Array.from(sym);
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < n; i++) {
      diag += (A[i * n + i] ?? 0) ** 2;
      for (let j = i + 1; j < n; j++) off += (A[i * n + j] ?? 0) ** 2;
    }
    if (off <= 1e-24 * (diag + 1e-300)) break;
    for (let pI = 0; pI < n; pI++) {
      for (let q = pI + 1; q < n; q++) {
        const apq = A[pI * n + q] ?? 0;
        if (Math.abs(apq) < 1e-300) continue;
        const app = A[pI * n + pI] ?? 0;
        const aqq = A[q * n + q] ?? 0;
        const theta = (aqq - app) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = A[k * n + pI] ?? 0;
          const akq = A[k * n + q] ?? 0;
          A[k * n + pI] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = A[pI * n + k] ?? 0;
          const aqk = A[q * n + k] ?? 0;
          A[pI * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = V[k * n + pI] ?? 0;
          const vkq = V[k * n + q] ?? 0;
          V[k * n + pI] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => (A[y * n + y] ?? 0) - (A[x * n + x] ?? 0));
  const picked = order.slice(0, count);
  return {
    values: picked.map((i) => A[i * n + i] ?? 0),
    vectors: picked.map((i) => {
      const v = new Float64Array(n);
      for (let k = 0; k < n; k++) v[k] = V[k * n + i] ?? 0;
      return v;
    }),
  };
}
