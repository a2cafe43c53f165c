;; Block-sparse attention forward and backward in WebAssembly with 128-bit SIMD (f32x4).
;; Compiled by scripts/build-wasm.mjs into src/wasm/attentionWasm.ts; driven by src/simdKernel.ts,
;; which lays the inputs out (below) once per call, runs one of the two entry points over every
;; batch entry, head and query block, and finishes the rows (1 / l, log l) in JavaScript.
;;
;; Layout (byte addresses given by the host in a parameter block, see the P_* offsets in
;; simdKernel.ts). Rows are padded per block: a query block holds qBP rows (qBlock rounded up to
;; 4), a key block kvBP rows (kvBlock rounded up to 8), each row dP floats (dim rounded up to 8);
;; padding is zero. K and V are also stored transposed per key block ([dP][kvBP] tiles), so that
;; S = Q K^T and dP = dO V^T load four consecutive keys with one v128.load.
;;
;; Every matrix product goes through $gemm: a 4 x 8 register tile (eight f32x4 accumulators),
;; one splat load of A per row and two loads of B per step of the inner dimension.
;; exp is a Cody-Waite reduction with the cephes expf polynomial (about 1 ulp); inputs below
;; -87.3 (masked scores, -Infinity) give exactly 0, NaN stays NaN. The hot loops carry a copy of
;; $exp4 inline (locals $ex..$ep): a call per vector measured about a fifth of the forward time.
(module
  (import "env" "memory" (memory 1))

  (func $exp4 (param $x v128) (result v128)
    (local $z v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $z (f32x4.min (f32x4.max (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))
                             (v128.const f32x4 88.3 88.3 88.3 88.3)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $z) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
    (local.set $r (f32x4.sub (local.get $z) (f32x4.mul (local.get $n) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
    (local.set $p (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r))
                             (v128.const f32x4 1 1 1 1)))
    ;; 2^n from the exponent bits (n in [-126, 127] after the clamp)
    (local.set $p (f32x4.mul (local.get $p)
      (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $n)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
    (v128.andnot (local.get $p) (f32x4.lt (local.get $x) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))))

  ;; C[i][j] (+)= sum_k A[i][k] B[k][j] for i < M (a multiple of 4), j < N (a multiple of 8),
  ;; k < K (a multiple of 4); row strides lda, ldb, ldc in bytes; acc = 0 overwrites C. A 4 x 8
  ;; register tile (eight f32x4 accumulators); k unrolled by 4 so the four A values of a row come
  ;; from one pointer with immediate offsets.
  (func $gemm (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32)
              (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $K i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $k i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $x00 v128) (local $x01 v128) (local $x10 v128) (local $x11 v128)
    (local $x20 v128) (local $x21 v128) (local $x30 v128) (local $x31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (block $iend
      (loop $iloop
        (br_if $iend (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $j (i32.const 0))
        (block $jend
          (loop $jloop
            (br_if $jend (i32.ge_u (local.get $j) (local.get $N)))
            (local.set $c0 (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $c1 (i32.add (local.get $c0) (local.get $ldc)))
            (local.set $c2 (i32.add (local.get $c1) (local.get $ldc)))
            (local.set $c3 (i32.add (local.get $c2) (local.get $ldc)))
            (if (local.get $acc)
              (then
                (local.set $x00 (v128.load (local.get $c0))) (local.set $x01 (v128.load offset=16 (local.get $c0)))
                (local.set $x10 (v128.load (local.get $c1))) (local.set $x11 (v128.load offset=16 (local.get $c1)))
                (local.set $x20 (v128.load (local.get $c2))) (local.set $x21 (v128.load offset=16 (local.get $c2)))
                (local.set $x30 (v128.load (local.get $c3))) (local.set $x31 (v128.load offset=16 (local.get $c3))))
              (else
                (local.set $x00 (v128.const i32x4 0 0 0 0)) (local.set $x01 (v128.const i32x4 0 0 0 0))
                (local.set $x10 (v128.const i32x4 0 0 0 0)) (local.set $x11 (v128.const i32x4 0 0 0 0))
                (local.set $x20 (v128.const i32x4 0 0 0 0)) (local.set $x21 (v128.const i32x4 0 0 0 0))
                (local.set $x30 (v128.const i32x4 0 0 0 0)) (local.set $x31 (v128.const i32x4 0 0 0 0))))
            (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))))
            (local.set $a1 (i32.add (local.get $a0) (local.get $lda)))
            (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
            (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (block $kend
              (loop $kloop
                (br_if $kend (i32.le_s (local.get $k) (i32.const 0)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat (local.get $a1)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat (local.get $a2)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat (local.get $a3)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat offset=4 (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=4 (local.get $a1)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=4 (local.get $a2)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=4 (local.get $a3)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat offset=8 (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=8 (local.get $a1)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=8 (local.get $a2)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=8 (local.get $a3)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat offset=12 (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=12 (local.get $a1)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=12 (local.get $a2)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=12 (local.get $a3)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
                (local.set $a1 (i32.add (local.get $a1) (i32.const 16)))
                (local.set $a2 (i32.add (local.get $a2) (i32.const 16)))
                (local.set $a3 (i32.add (local.get $a3) (i32.const 16)))
                (local.set $k (i32.sub (local.get $k) (i32.const 4)))
                (br $kloop)))
            (v128.store (local.get $c0) (local.get $x00)) (v128.store offset=16 (local.get $c0) (local.get $x01))
            (v128.store (local.get $c1) (local.get $x10)) (v128.store offset=16 (local.get $c1) (local.get $x11))
            (v128.store (local.get $c2) (local.get $x20)) (v128.store offset=16 (local.get $c2) (local.get $x21))
            (v128.store (local.get $c3) (local.get $x30)) (v128.store offset=16 (local.get $c3) (local.get $x31))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $jloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $iloop))))

  ;; C[i][j] (+)= sum_k A[k][i] B[k][j] (A transposed: P^T dO, dS^T Q), K a multiple of 2: the
  ;; four A values of one k are adjacent, so one pointer with immediate offsets reads them.
  (func $gemmTN (param $a i32) (param $lda i32) (param $b i32) (param $ldb i32)
              (param $c i32) (param $ldc i32) (param $M i32) (param $N i32) (param $K i32) (param $acc i32)
    (local $i i32) (local $j i32) (local $k i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $bp i32)
    (local $c0 i32) (local $c1 i32) (local $c2 i32) (local $c3 i32)
    (local $x00 v128) (local $x01 v128) (local $x10 v128) (local $x11 v128)
    (local $x20 v128) (local $x21 v128) (local $x30 v128) (local $x31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (block $iend
      (loop $iloop
        (br_if $iend (i32.ge_u (local.get $i) (local.get $M)))
        (local.set $j (i32.const 0))
        (block $jend
          (loop $jloop
            (br_if $jend (i32.ge_u (local.get $j) (local.get $N)))
            (local.set $c0 (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2)))))
            (local.set $c1 (i32.add (local.get $c0) (local.get $ldc)))
            (local.set $c2 (i32.add (local.get $c1) (local.get $ldc)))
            (local.set $c3 (i32.add (local.get $c2) (local.get $ldc)))
            (if (local.get $acc)
              (then
                (local.set $x00 (v128.load (local.get $c0))) (local.set $x01 (v128.load offset=16 (local.get $c0)))
                (local.set $x10 (v128.load (local.get $c1))) (local.set $x11 (v128.load offset=16 (local.get $c1)))
                (local.set $x20 (v128.load (local.get $c2))) (local.set $x21 (v128.load offset=16 (local.get $c2)))
                (local.set $x30 (v128.load (local.get $c3))) (local.set $x31 (v128.load offset=16 (local.get $c3))))
              (else
                (local.set $x00 (v128.const i32x4 0 0 0 0)) (local.set $x01 (v128.const i32x4 0 0 0 0))
                (local.set $x10 (v128.const i32x4 0 0 0 0)) (local.set $x11 (v128.const i32x4 0 0 0 0))
                (local.set $x20 (v128.const i32x4 0 0 0 0)) (local.set $x21 (v128.const i32x4 0 0 0 0))
                (local.set $x30 (v128.const i32x4 0 0 0 0)) (local.set $x31 (v128.const i32x4 0 0 0 0))))
            (local.set $a0 (i32.add (local.get $a) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $bp (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (local.get $K))
            (block $kend
              (loop $kloop
                (br_if $kend (i32.le_s (local.get $k) (i32.const 0)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=4 (local.get $a0)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=8 (local.get $a0)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=12 (local.get $a0)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $a0 (i32.add (local.get $a0) (local.get $lda)))
                (local.set $b0 (v128.load (local.get $bp)))
                (local.set $b1 (v128.load offset=16 (local.get $bp)))
                (local.set $s (v128.load32_splat (local.get $a0)))
                (local.set $x00 (f32x4.add (local.get $x00) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x01 (f32x4.add (local.get $x01) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=4 (local.get $a0)))
                (local.set $x10 (f32x4.add (local.get $x10) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x11 (f32x4.add (local.get $x11) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=8 (local.get $a0)))
                (local.set $x20 (f32x4.add (local.get $x20) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x21 (f32x4.add (local.get $x21) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $s (v128.load32_splat offset=12 (local.get $a0)))
                (local.set $x30 (f32x4.add (local.get $x30) (f32x4.mul (local.get $s) (local.get $b0))))
                (local.set $x31 (f32x4.add (local.get $x31) (f32x4.mul (local.get $s) (local.get $b1))))
                (local.set $bp (i32.add (local.get $bp) (local.get $ldb)))
                (local.set $a0 (i32.add (local.get $a0) (local.get $lda)))
                (local.set $k (i32.sub (local.get $k) (i32.const 2)))
                (br $kloop)))
            (v128.store (local.get $c0) (local.get $x00)) (v128.store offset=16 (local.get $c0) (local.get $x01))
            (v128.store (local.get $c1) (local.get $x10)) (v128.store offset=16 (local.get $c1) (local.get $x11))
            (v128.store (local.get $c2) (local.get $x20)) (v128.store offset=16 (local.get $c2) (local.get $x21))
            (v128.store (local.get $c3) (local.get $x30)) (v128.store offset=16 (local.get $c3) (local.get $x31))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $jloop)))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $iloop))))

  ;; Sets the masked scores of a qBP x kvBP tile to -Infinity: where the partial block's element
  ;; mask (off >= 0, qBlock x kvBlock bytes at bits + off*qBlock*kvBlock) is 0, and every column
  ;; from kRows on (keys past the end of the sequence and the padding).
  (func $mask (param $s i32) (param $off i32) (param $bits i32) (param $qBlock i32) (param $kvBlock i32)
              (param $qBP i32) (param $kvBP i32) (param $kRows i32)
    (local $i i32) (local $j i32) (local $bp i32) (local $sp i32)
    (if (i32.ge_s (local.get $off) (i32.const 0))
      (then
        (local.set $bp (i32.add (local.get $bits) (i32.mul (local.get $off) (i32.mul (local.get $qBlock) (local.get $kvBlock)))))
        (local.set $i (i32.const 0))
        (block $iend
          (loop $iloop
            (br_if $iend (i32.ge_u (local.get $i) (local.get $qBlock)))
            (local.set $sp (i32.add (local.get $s) (i32.shl (i32.mul (local.get $i) (local.get $kvBP)) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $jend
              (loop $jloop
                (br_if $jend (i32.ge_u (local.get $j) (local.get $kRows)))
                (if (i32.eqz (i32.load8_u (i32.add (local.get $bp) (local.get $j))))
                  (then (f32.store (i32.add (local.get $sp) (i32.shl (local.get $j) (i32.const 2))) (f32.const -inf))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jloop)))
            (local.set $bp (i32.add (local.get $bp) (local.get $kvBlock)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop)))))
    (if (i32.lt_u (local.get $kRows) (local.get $kvBP))
      (then
        (local.set $i (i32.const 0))
        (block $iend2
          (loop $iloop2
            (br_if $iend2 (i32.ge_u (local.get $i) (local.get $qBP)))
            (local.set $sp (i32.add (local.get $s) (i32.shl (i32.mul (local.get $i) (local.get $kvBP)) (i32.const 2))))
            (local.set $j (local.get $kRows))
            (block $jend2
              (loop $jloop2
                (br_if $jend2 (i32.ge_u (local.get $j) (local.get $kvBP)))
                (f32.store (i32.add (local.get $sp) (i32.shl (local.get $j) (i32.const 2))) (f32.const -inf))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $jloop2)))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $iloop2))))))

  ;; Parameter block (i32 words unless noted), shared by both entry points.
  ;;  0 nBH  4 nq  8 qBP  12 kvBP  16 dP  20 qBlock  24 kvBlock  28 lk  32 scale (f32)  36 nk
  ;;  40 Q  44 KT  48 V  52 ACC (forward: output accumulators; backward: dQ)  56 M (f32 per row)
  ;;  60 L (f64 per row)  64 rowStart  68 listKb  72 listOff  76 bits  80 S  84 kvHeadOf
  ;;  88 maskBaseOf  92 dO  96 VT  100 K  104 LSE  108 DELTA  112 dK  116 dV  120 DP
  ;; Q, dO, ACC: [nBH][nq*qBP][dP]; KT, VT: [kv heads][nk][dP][kvBP]; V, K, dK, dV:
  ;; [kv heads][nk*kvBP][dP]; M, L, LSE, DELTA: [nBH][nq*qBP]. Mask row r lists its key blocks
  ;; listKb[rowStart[r] .. rowStart[r+1]) in ascending order, with the partial block's index in
  ;; listOff (-1: a full block).

  ;; Forward: online softmax over the listed key blocks. The host zeroes ACC and L and fills M
  ;; with -Infinity; it then divides ACC by L and adds log L to M.
  (func (export "forward") (param $P i32)
    (local $nBH i32) (local $nq i32) (local $qBP i32) (local $kvBP i32) (local $dP i32)
    (local $qBlock i32) (local $kvBlock i32) (local $lk i32) (local $scale v128) (local $nk i32)
    (local $bh i32) (local $qb i32) (local $e i32) (local $eEnd i32) (local $kb i32) (local $kRows i32)
    (local $qPtr i32) (local $accPtr i32) (local $mPtr i32) (local $lPtr i32) (local $ktHead i32) (local $vHead i32)
    (local $S i32) (local $row i32) (local $i i32) (local $j i32) (local $sp i32) (local $ap i32)
    (local $mx v128) (local $v v128) (local $sum v128) (local $mxs f32) (local $mOld f32) (local $mNew f32)
    (local $alpha f32) (local $alphaV v128) (local $ex v128) (local $ez v128) (local $en v128) (local $er v128) (local $ep v128) (local $mNewV v128) (local $rowB i32) (local $dB i32)
    (local.set $nBH (i32.load offset=0 (local.get $P)))
    (local.set $nq (i32.load offset=4 (local.get $P)))
    (local.set $qBP (i32.load offset=8 (local.get $P)))
    (local.set $kvBP (i32.load offset=12 (local.get $P)))
    (local.set $dP (i32.load offset=16 (local.get $P)))
    (local.set $qBlock (i32.load offset=20 (local.get $P)))
    (local.set $kvBlock (i32.load offset=24 (local.get $P)))
    (local.set $lk (i32.load offset=28 (local.get $P)))
    (local.set $scale (v128.load32_splat offset=32 (local.get $P)))
    (local.set $nk (i32.load offset=36 (local.get $P)))
    (local.set $S (i32.load offset=80 (local.get $P)))
    (local.set $rowB (i32.shl (local.get $kvBP) (i32.const 2)))
    (local.set $dB (i32.shl (local.get $dP) (i32.const 2)))
    (local.set $bh (i32.const 0))
    (block $bhEnd
      (loop $bhLoop
        (br_if $bhEnd (i32.ge_u (local.get $bh) (local.get $nBH)))
        (local.set $ktHead (i32.add (i32.load offset=44 (local.get $P))
          (i32.mul (i32.load (i32.add (i32.load offset=84 (local.get $P)) (i32.shl (local.get $bh) (i32.const 2))))
                   (i32.mul (i32.mul (local.get $nk) (local.get $kvBP)) (local.get $dB)))))
        (local.set $vHead (i32.add (i32.load offset=48 (local.get $P)) (i32.sub (local.get $ktHead) (i32.load offset=44 (local.get $P)))))
        (local.set $qb (i32.const 0))
        (block $qbEnd
          (loop $qbLoop
            (br_if $qbEnd (i32.ge_u (local.get $qb) (local.get $nq)))
            ;; first padded row of this query block
            (local.set $i (i32.add (i32.mul (i32.mul (local.get $bh) (local.get $nq)) (local.get $qBP)) (i32.mul (local.get $qb) (local.get $qBP))))
            (local.set $qPtr (i32.add (i32.load offset=40 (local.get $P)) (i32.mul (local.get $i) (local.get $dB))))
            (local.set $accPtr (i32.add (i32.load offset=52 (local.get $P)) (i32.mul (local.get $i) (local.get $dB))))
            (local.set $mPtr (i32.add (i32.load offset=56 (local.get $P)) (i32.shl (local.get $i) (i32.const 2))))
            (local.set $lPtr (i32.add (i32.load offset=60 (local.get $P)) (i32.shl (local.get $i) (i32.const 3))))
            (local.set $row (i32.add (i32.load (i32.add (i32.load offset=88 (local.get $P)) (i32.shl (local.get $bh) (i32.const 2)))) (local.get $qb)))
            (local.set $e (i32.load (i32.add (i32.load offset=64 (local.get $P)) (i32.shl (local.get $row) (i32.const 2)))))
            (local.set $eEnd (i32.load offset=4 (i32.add (i32.load offset=64 (local.get $P)) (i32.shl (local.get $row) (i32.const 2)))))
            (block $eEndB
              (loop $eLoop
                (br_if $eEndB (i32.ge_u (local.get $e) (local.get $eEnd)))
                (local.set $kb (i32.load (i32.add (i32.load offset=68 (local.get $P)) (i32.shl (local.get $e) (i32.const 2)))))
                (local.set $kRows (i32.sub (local.get $lk) (i32.mul (local.get $kb) (local.get $kvBlock))))
                (if (i32.gt_s (local.get $kRows) (local.get $kvBlock)) (then (local.set $kRows (local.get $kvBlock))))
                ;; S = Q_blk K_blk^T
                (call $gemm (local.get $qPtr) (local.get $dB)
                  (i32.add (local.get $ktHead) (i32.mul (local.get $kb) (i32.mul (local.get $dP) (local.get $rowB)))) (local.get $rowB)
                  (local.get $S) (local.get $rowB) (local.get $qBP) (local.get $kvBP) (local.get $dP) (i32.const 0))
                (call $mask (local.get $S) (i32.load (i32.add (i32.load offset=72 (local.get $P)) (i32.shl (local.get $e) (i32.const 2))))
                  (i32.load offset=76 (local.get $P)) (local.get $qBlock) (local.get $kvBlock) (local.get $qBP) (local.get $kvBP) (local.get $kRows))
                ;; online softmax, row by row: S becomes P = exp(scale*S - m); ACC and L are rescaled
                (local.set $i (i32.const 0))
                (block $rEnd
                  (loop $rLoop
                    (br_if $rEnd (i32.ge_u (local.get $i) (local.get $qBP)))
                    (local.set $sp (i32.add (local.get $S) (i32.mul (local.get $i) (local.get $rowB))))
                    (local.set $mx (v128.const f32x4 -inf -inf -inf -inf))
                    (local.set $j (i32.const 0))
                    (block $jEnd
                      (loop $jLoop
                        (br_if $jEnd (i32.ge_u (local.get $j) (local.get $rowB)))
                        (local.set $v (f32x4.mul (v128.load (i32.add (local.get $sp) (local.get $j))) (local.get $scale)))
                        (v128.store (i32.add (local.get $sp) (local.get $j)) (local.get $v))
                        (local.set $mx (f32x4.max (local.get $mx) (local.get $v)))
                        (local.set $j (i32.add (local.get $j) (i32.const 16)))
                        (br $jLoop)))
                    (local.set $mxs (f32.max (f32.max (f32x4.extract_lane 0 (local.get $mx)) (f32x4.extract_lane 1 (local.get $mx)))
                                             (f32.max (f32x4.extract_lane 2 (local.get $mx)) (f32x4.extract_lane 3 (local.get $mx)))))
                    (if (f32.eq (local.get $mxs) (f32.const -inf))
                      (then
                        ;; no allowed key in this tile row: it adds nothing
                        (local.set $j (i32.const 0))
                        (block $zEnd
                          (loop $zLoop
                            (br_if $zEnd (i32.ge_u (local.get $j) (local.get $rowB)))
                            (v128.store (i32.add (local.get $sp) (local.get $j)) (v128.const i32x4 0 0 0 0))
                            (local.set $j (i32.add (local.get $j) (i32.const 16)))
                            (br $zLoop))))
                      (else
                        (local.set $mOld (f32.load (i32.add (local.get $mPtr) (i32.shl (local.get $i) (i32.const 2)))))
                        (local.set $mNew (f32.max (local.get $mOld) (local.get $mxs)))
                        (f32.store (i32.add (local.get $mPtr) (i32.shl (local.get $i) (i32.const 2))) (local.get $mNew))
                        (local.set $alpha (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (f32.sub (local.get $mOld) (local.get $mNew))))))
                        (if (f32.ne (local.get $alpha) (f32.const 1))
                          (then
                            (local.set $alphaV (f32x4.splat (local.get $alpha)))
                            (local.set $ap (i32.add (local.get $accPtr) (i32.mul (local.get $i) (local.get $dB))))
                            (local.set $j (i32.const 0))
                            (block $aEnd
                              (loop $aLoop
                                (br_if $aEnd (i32.ge_u (local.get $j) (local.get $dB)))
                                (v128.store (i32.add (local.get $ap) (local.get $j))
                                  (f32x4.mul (v128.load (i32.add (local.get $ap) (local.get $j))) (local.get $alphaV)))
                                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                                (br $aLoop)))))
                        (local.set $mNewV (f32x4.splat (local.get $mNew)))
                        (local.set $sum (v128.const i32x4 0 0 0 0))
                        (local.set $j (i32.const 0))
                        (block $pEnd
                          (loop $pLoop
                            (br_if $pEnd (i32.ge_u (local.get $j) (local.get $rowB)))
                            (local.set $ex (f32x4.sub (v128.load (i32.add (local.get $sp) (local.get $j))) (local.get $mNewV)))
                            (local.set $ez (f32x4.min (f32x4.max (local.get $ex) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)) (v128.const f32x4 88.3 88.3 88.3 88.3)))
                            (local.set $en (f32x4.nearest (f32x4.mul (local.get $ez) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
                            (local.set $er (f32x4.sub (local.get $ez) (f32x4.mul (local.get $en) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
                            (local.set $er (f32x4.sub (local.get $er) (f32x4.mul (local.get $en) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
                            (local.set $ep (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
                            (local.set $ep (f32x4.add (f32x4.add (f32x4.mul (local.get $ep) (f32x4.mul (local.get $er) (local.get $er))) (local.get $er)) (v128.const f32x4 1 1 1 1)))
                            (local.set $ep (f32x4.mul (local.get $ep) (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $en)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
                            (local.set $v (v128.andnot (local.get $ep) (f32x4.lt (local.get $ex) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))))
                            (v128.store (i32.add (local.get $sp) (local.get $j)) (local.get $v))
                            (local.set $sum (f32x4.add (local.get $sum) (local.get $v)))
                            (local.set $j (i32.add (local.get $j) (i32.const 16)))
                            (br $pLoop)))
                        (f64.store (i32.add (local.get $lPtr) (i32.shl (local.get $i) (i32.const 3)))
                          (f64.add
                            (f64.mul (f64.load (i32.add (local.get $lPtr) (i32.shl (local.get $i) (i32.const 3)))) (f64.promote_f32 (local.get $alpha)))
                            (f64.add (f64.add (f64.promote_f32 (f32x4.extract_lane 0 (local.get $sum))) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $sum))))
                                     (f64.add (f64.promote_f32 (f32x4.extract_lane 2 (local.get $sum))) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $sum)))))))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $rLoop)))
                ;; ACC += P V_blk
                (call $gemm (local.get $S) (local.get $rowB)
                  (i32.add (local.get $vHead) (i32.mul (local.get $kb) (i32.mul (local.get $kvBP) (local.get $dB)))) (local.get $dB)
                  (local.get $accPtr) (local.get $dB) (local.get $qBP) (local.get $dP) (local.get $kvBP) (i32.const 1))
                (local.set $e (i32.add (local.get $e) (i32.const 1)))
                (br $eLoop)))
            (local.set $qb (i32.add (local.get $qb) (i32.const 1)))
            (br $qbLoop)))
        (local.set $bh (i32.add (local.get $bh) (i32.const 1)))
        (br $bhLoop))))

  ;; Backward (FlashAttention-2 recurrences, P recomputed from the saved log-sum-exp; padded rows
  ;; carry LSE = -Infinity): accumulates into dQ (at ACC), dK and dV, which the host zeroes.
  (func (export "backward") (param $P i32)
    (local $nBH i32) (local $nq i32) (local $qBP i32) (local $kvBP i32) (local $dP i32)
    (local $qBlock i32) (local $kvBlock i32) (local $lk i32) (local $scale v128) (local $nk i32)
    (local $bh i32) (local $qb i32) (local $e i32) (local $eEnd i32) (local $kb i32) (local $kRows i32)
    (local $r0 i32) (local $qPtr i32) (local $doPtr i32) (local $dqPtr i32) (local $kvOff i32)
    (local $headOff i32) (local $tileOff i32) (local $blkOff i32)
    (local $S i32) (local $DPs i32) (local $row i32) (local $i i32) (local $j i32) (local $sp i32) (local $dpp i32)
    (local $li f32) (local $liV v128) (local $ex v128) (local $ez v128) (local $en v128) (local $er v128) (local $ep v128) (local $diV v128) (local $p v128) (local $ds v128) (local $rowB i32) (local $dB i32)
    (local.set $nBH (i32.load offset=0 (local.get $P)))
    (local.set $nq (i32.load offset=4 (local.get $P)))
    (local.set $qBP (i32.load offset=8 (local.get $P)))
    (local.set $kvBP (i32.load offset=12 (local.get $P)))
    (local.set $dP (i32.load offset=16 (local.get $P)))
    (local.set $qBlock (i32.load offset=20 (local.get $P)))
    (local.set $kvBlock (i32.load offset=24 (local.get $P)))
    (local.set $lk (i32.load offset=28 (local.get $P)))
    (local.set $scale (v128.load32_splat offset=32 (local.get $P)))
    (local.set $nk (i32.load offset=36 (local.get $P)))
    (local.set $S (i32.load offset=80 (local.get $P)))
    (local.set $DPs (i32.load offset=120 (local.get $P)))
    (local.set $rowB (i32.shl (local.get $kvBP) (i32.const 2)))
    (local.set $dB (i32.shl (local.get $dP) (i32.const 2)))
    (local.set $bh (i32.const 0))
    (block $bhEnd
      (loop $bhLoop
        (br_if $bhEnd (i32.ge_u (local.get $bh) (local.get $nBH)))
        ;; byte offset of this head's kv data (same for KT, VT, K, V, dK, dV)
        (local.set $headOff (i32.mul (i32.load (i32.add (i32.load offset=84 (local.get $P)) (i32.shl (local.get $bh) (i32.const 2))))
                                     (i32.mul (i32.mul (local.get $nk) (local.get $kvBP)) (local.get $dB))))
        (local.set $qb (i32.const 0))
        (block $qbEnd
          (loop $qbLoop
            (br_if $qbEnd (i32.ge_u (local.get $qb) (local.get $nq)))
            (local.set $r0 (i32.add (i32.mul (i32.mul (local.get $bh) (local.get $nq)) (local.get $qBP)) (i32.mul (local.get $qb) (local.get $qBP))))
            (local.set $qPtr (i32.add (i32.load offset=40 (local.get $P)) (i32.mul (local.get $r0) (local.get $dB))))
            (local.set $doPtr (i32.add (i32.load offset=92 (local.get $P)) (i32.mul (local.get $r0) (local.get $dB))))
            (local.set $dqPtr (i32.add (i32.load offset=52 (local.get $P)) (i32.mul (local.get $r0) (local.get $dB))))
            (local.set $row (i32.add (i32.load (i32.add (i32.load offset=88 (local.get $P)) (i32.shl (local.get $bh) (i32.const 2)))) (local.get $qb)))
            (local.set $e (i32.load (i32.add (i32.load offset=64 (local.get $P)) (i32.shl (local.get $row) (i32.const 2)))))
            (local.set $eEnd (i32.load offset=4 (i32.add (i32.load offset=64 (local.get $P)) (i32.shl (local.get $row) (i32.const 2)))))
            (block $eEndB
              (loop $eLoop
                (br_if $eEndB (i32.ge_u (local.get $e) (local.get $eEnd)))
                (local.set $kb (i32.load (i32.add (i32.load offset=68 (local.get $P)) (i32.shl (local.get $e) (i32.const 2)))))
                (local.set $kRows (i32.sub (local.get $lk) (i32.mul (local.get $kb) (local.get $kvBlock))))
                (if (i32.gt_s (local.get $kRows) (local.get $kvBlock)) (then (local.set $kRows (local.get $kvBlock))))
                ;; a key block is dP x kvBP floats both ways (tile or rows)
                (local.set $blkOff (i32.add (local.get $headOff) (i32.mul (local.get $kb) (i32.mul (local.get $kvBP) (local.get $dB)))))
                (call $gemm (local.get $qPtr) (local.get $dB)
                  (i32.add (i32.load offset=44 (local.get $P)) (local.get $blkOff)) (local.get $rowB)
                  (local.get $S) (local.get $rowB) (local.get $qBP) (local.get $kvBP) (local.get $dP) (i32.const 0))
                (call $mask (local.get $S) (i32.load (i32.add (i32.load offset=72 (local.get $P)) (i32.shl (local.get $e) (i32.const 2))))
                  (i32.load offset=76 (local.get $P)) (local.get $qBlock) (local.get $kvBlock) (local.get $qBP) (local.get $kvBP) (local.get $kRows))
                (call $gemm (local.get $doPtr) (local.get $dB)
                  (i32.add (i32.load offset=96 (local.get $P)) (local.get $blkOff)) (local.get $rowB)
                  (local.get $DPs) (local.get $rowB) (local.get $qBP) (local.get $kvBP) (local.get $dP) (i32.const 0))
                ;; P = exp(scale*S - lse) and dS = P (dP - delta) scale, in place of S and dP
                (local.set $i (i32.const 0))
                (block $rEnd
                  (loop $rLoop
                    (br_if $rEnd (i32.ge_u (local.get $i) (local.get $qBP)))
                    (local.set $sp (i32.add (local.get $S) (i32.mul (local.get $i) (local.get $rowB))))
                    (local.set $dpp (i32.add (local.get $DPs) (i32.mul (local.get $i) (local.get $rowB))))
                    (local.set $li (f32.load (i32.add (i32.load offset=104 (local.get $P)) (i32.shl (i32.add (local.get $r0) (local.get $i)) (i32.const 2)))))
                    (local.set $liV (f32x4.splat (local.get $li)))
                    (local.set $diV (v128.load32_splat (i32.add (i32.load offset=108 (local.get $P)) (i32.shl (i32.add (local.get $r0) (local.get $i)) (i32.const 2)))))
                    (local.set $j (i32.const 0))
                    (block $jEnd
                      (loop $jLoop
                        (br_if $jEnd (i32.ge_u (local.get $j) (local.get $rowB)))
                        (if (f32.eq (local.get $li) (f32.const -inf))
                          (then
                            (local.set $p (v128.const i32x4 0 0 0 0))
                            (local.set $ds (v128.const i32x4 0 0 0 0)))
                          (else
                            ;; s - lse <= 0 for the LSE this kernel's forward gives; clamped for an LSE from elsewhere
                            ;; (impl 'dense'), where rounding differences at huge logits overflowed exp
                            (local.set $ex (f32x4.min (f32x4.sub (f32x4.mul (v128.load (i32.add (local.get $sp) (local.get $j))) (local.get $scale)) (local.get $liV))
                                                      (v128.const i32x4 0 0 0 0)))
                            (local.set $ez (f32x4.min (f32x4.max (local.get $ex) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3)) (v128.const f32x4 88.3 88.3 88.3 88.3)))
                            (local.set $en (f32x4.nearest (f32x4.mul (local.get $ez) (v128.const f32x4 1.44269504088896341 1.44269504088896341 1.44269504088896341 1.44269504088896341))))
                            (local.set $er (f32x4.sub (local.get $ez) (f32x4.mul (local.get $en) (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))))
                            (local.set $er (f32x4.sub (local.get $er) (f32x4.mul (local.get $en) (v128.const f32x4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4 -2.12194440e-4))))
                            (local.set $ep (v128.const f32x4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4 1.9875691500e-4))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3 1.3981999507e-3)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3 8.3334519073e-3)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2 4.1665795894e-2)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1 1.6666665459e-1)))
                            (local.set $ep (f32x4.add (f32x4.mul (local.get $ep) (local.get $er)) (v128.const f32x4 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1 5.0000001201e-1)))
                            (local.set $ep (f32x4.add (f32x4.add (f32x4.mul (local.get $ep) (f32x4.mul (local.get $er) (local.get $er))) (local.get $er)) (v128.const f32x4 1 1 1 1)))
                            (local.set $ep (f32x4.mul (local.get $ep) (i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s (local.get $en)) (v128.const i32x4 127 127 127 127)) (i32.const 23))))
                            (local.set $p (v128.andnot (local.get $ep) (f32x4.lt (local.get $ex) (v128.const f32x4 -87.3 -87.3 -87.3 -87.3))))
                            (local.set $ds (f32x4.mul (f32x4.mul (local.get $p) (f32x4.sub (v128.load (i32.add (local.get $dpp) (local.get $j))) (local.get $diV))) (local.get $scale)))
                            ;; 0 where P is 0 (masked), even if dP - delta is not finite
                            (local.set $ds (v128.andnot (local.get $ds) (f32x4.eq (local.get $p) (v128.const i32x4 0 0 0 0))))))
                        (v128.store (i32.add (local.get $sp) (local.get $j)) (local.get $p))
                        (v128.store (i32.add (local.get $dpp) (local.get $j)) (local.get $ds))
                        (local.set $j (i32.add (local.get $j) (i32.const 16)))
                        (br $jLoop)))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br $rLoop)))
                ;; dV_blk += P^T dO_blk; dK_blk += dS^T Q_blk; dQ_blk += dS K_blk
                (call $gemmTN (local.get $S) (local.get $rowB) (local.get $doPtr) (local.get $dB)
                  (i32.add (i32.load offset=116 (local.get $P)) (local.get $blkOff)) (local.get $dB) (local.get $kvBP) (local.get $dP) (local.get $qBP) (i32.const 1))
                (call $gemmTN (local.get $DPs) (local.get $rowB) (local.get $qPtr) (local.get $dB)
                  (i32.add (i32.load offset=112 (local.get $P)) (local.get $blkOff)) (local.get $dB) (local.get $kvBP) (local.get $dP) (local.get $qBP) (i32.const 1))
                (call $gemm (local.get $DPs) (local.get $rowB)
                  (i32.add (i32.load offset=100 (local.get $P)) (local.get $blkOff)) (local.get $dB)
                  (local.get $dqPtr) (local.get $dB) (local.get $qBP) (local.get $dP) (local.get $kvBP) (i32.const 1))
                (local.set $e (i32.add (local.get $e) (i32.const 1)))
                (br $eLoop)))
            (local.set $qb (i32.add (local.get $qb) (i32.const 1)))
            (br $qbLoop)))
        (local.set $bh (i32.add (local.get $bh) (i32.const 1)))
        (br $bhLoop))))
)
