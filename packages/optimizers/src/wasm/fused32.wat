;; The fused float32-state optimizer step (AdamW / Adam-L2, SGD momentum, Lion, LARS, LAMB) in
;; WebAssembly with 128-bit SIMD. Compiled by scripts/build-wasm.mjs into src/wasm/fused32Wasm.ts;
;; driven by src/fused32.ts.
;;
;; It reproduces the typed-array reference (src/fused32Rules.ts) bit for bit: the reference
;; computes in float32 with one rounding per operation (Math.fround) and the module does the same
;; operations in the same order on f32x4 vectors (WebAssembly never fuses multiply-adds; +, -, *, /
;; and sqrt are correctly rounded on both sides). Sums of squares are float64, one accumulator
;; lane per element index mod 4, as the reference keeps them.
;;
;; The memory is imported: the tfjs wasm backend's heap, so the module reads the parameter,
;; gradient and states where tfjs keeps them and writes the outputs tfjs allocated, or a memory of
;; the host's own. Pointers are byte offsets; n4 is a multiple of 4 (the host runs the reference on
;; the last n % 4 elements). At $k the host puts the rule's float32 constants, in the order of
;; RULE32_CONSTANTS (src/kernelDefs.ts): constant i at byte 4 i. `norms` writes 8 float64 lane
;; sums at $k + 64: sum of p^2 by lane 0..3, then of the second vector (LARS g~, LAMB u).
;; The rule ids are those of RULE32 (src/kernelDefs.ts), exported below so a test can compare.
(module
  (import "env" "memory" (memory 1))
  (global $ADAM (export "RULE_ADAM") i32 (i32.const 0))
  (global $MOMENTUM (export "RULE_MOMENTUM") i32 (i32.const 1))
  (global $LION (export "RULE_LION") i32 (i32.const 2))
  (global $LARS (export "RULE_LARS") i32 (i32.const 3))
  (global $LAMB (export "RULE_LAMB") i32 (i32.const 4))
  (global $TRUST (export "RULE_TRUST") i32 (i32.const 5))
  (global (export "NORMS_OFFSET") i32 (i32.const 64))

  ;; All lanes finite: x - x == 0 is false exactly for NaN and +-Infinity.
  (func $finite (param $x v128) (result v128)
    (f32x4.eq (f32x4.sub (local.get $x) (local.get $x)) (f32x4.splat (f32.const 0))))

  ;; Squares of lanes 0, 1 (low) and 2, 3 (high) as float64.
  (func $sqLo (param $x v128) (result v128)
    (local $d v128)
    (local.set $d (f64x2.promote_low_f32x4 (local.get $x)))
    (f64x2.mul (local.get $d) (local.get $d)))
  (func $sqHi (param $x v128) (result v128)
    (local $d v128)
    (local.set $d (f64x2.promote_low_f32x4
      (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x))))
    (f64x2.mul (local.get $d) (local.get $d)))

  ;; Adam: K = b1, c1, b2, c2, l2, decay, stepSize, invSqrtBc2, eps.
  (func $adam (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $s1 i32) (param $op i32) (param $o0 i32) (param $o1 i32) (param $k i32)
    (local $i i32) (local $b1 v128) (local $c1 v128) (local $b2 v128) (local $c2 v128) (local $l2 v128) (local $decay v128)
    (local $ss v128) (local $isb v128) (local $eps v128)
    (local $pi v128) (local $g0 v128) (local $m v128) (local $v v128) (local $gi v128) (local $nm v128) (local $nv v128) (local $np v128) (local $ok v128)
    (local.set $b1 (v128.load32_splat offset=0 (local.get $k)))
    (local.set $c1 (v128.load32_splat offset=4 (local.get $k)))
    (local.set $b2 (v128.load32_splat offset=8 (local.get $k)))
    (local.set $c2 (v128.load32_splat offset=12 (local.get $k)))
    (local.set $l2 (v128.load32_splat offset=16 (local.get $k)))
    (local.set $decay (v128.load32_splat offset=20 (local.get $k)))
    (local.set $ss (v128.load32_splat offset=24 (local.get $k)))
    (local.set $isb (v128.load32_splat offset=28 (local.get $k)))
    (local.set $eps (v128.load32_splat offset=32 (local.get $k)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $g0 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m (v128.load (i32.add (local.get $s0) (local.get $i))))
        (local.set $v (v128.load (i32.add (local.get $s1) (local.get $i))))
        (local.set $gi (f32x4.add (local.get $g0) (f32x4.mul (local.get $l2) (local.get $pi))))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $b1) (local.get $m)) (f32x4.mul (local.get $c1) (local.get $gi))))
        (local.set $nv (f32x4.add (f32x4.mul (local.get $b2) (local.get $v))
                                  (f32x4.mul (f32x4.mul (local.get $c2) (local.get $gi)) (local.get $gi))))
        (local.set $np (f32x4.sub (f32x4.mul (local.get $pi) (local.get $decay))
                                  (f32x4.div (f32x4.mul (local.get $ss) (local.get $nm))
                                             (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $nv)) (local.get $isb)) (local.get $eps)))))
        (local.set $ok (v128.and (v128.and (call $finite (local.get $g0)) (call $finite (local.get $nm)))
                                 (v128.and (call $finite (local.get $nv)) (call $finite (local.get $np)))))
        ;; Rare: a non-finite gradient or an overflow keeps the element's parameter and states.
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))
            (local.set $nv (v128.bitselect (local.get $nv) (local.get $v) (local.get $ok)))))
        (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $np))
        (v128.store (i32.add (local.get $o0) (local.get $i)) (local.get $nm))
        (v128.store (i32.add (local.get $o1) (local.get $i)) (local.get $nv))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; SGD momentum: K = mu, c (1 - dampening), wd, lr, nesterov (0/1), fresh (0/1).
  (func $momentum (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $op i32) (param $o0 i32) (param $k i32)
    (local $i i32) (local $mu v128) (local $c v128) (local $wd v128) (local $lr v128) (local $nest v128) (local $fresh v128)
    (local $pi v128) (local $g0 v128) (local $m v128) (local $gi v128) (local $nm v128) (local $np v128) (local $ok v128)
    (local.set $mu (v128.load32_splat offset=0 (local.get $k)))
    (local.set $c (v128.load32_splat offset=4 (local.get $k)))
    (local.set $wd (v128.load32_splat offset=8 (local.get $k)))
    (local.set $lr (v128.load32_splat offset=12 (local.get $k)))
    ;; all-ones lanes where the flag is set
    (local.set $nest (f32x4.ne (v128.load32_splat offset=16 (local.get $k)) (f32x4.splat (f32.const 0))))
    (local.set $fresh (f32x4.ne (v128.load32_splat offset=20 (local.get $k)) (f32x4.splat (f32.const 0))))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $g0 (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m (v128.load (i32.add (local.get $s0) (local.get $i))))
        (local.set $gi (f32x4.add (local.get $g0) (f32x4.mul (local.get $wd) (local.get $pi))))
        ;; fresh ? gi : mu * m + c * gi
        (local.set $nm (v128.bitselect (local.get $gi)
          (f32x4.add (f32x4.mul (local.get $mu) (local.get $m)) (f32x4.mul (local.get $c) (local.get $gi)))
          (local.get $fresh)))
        ;; p - lr * (nesterov ? gi + mu * nm : nm)
        (local.set $np (f32x4.sub (local.get $pi) (f32x4.mul (local.get $lr)
          (v128.bitselect (f32x4.add (local.get $gi) (f32x4.mul (local.get $mu) (local.get $nm))) (local.get $nm) (local.get $nest)))))
        (local.set $ok (v128.and (call $finite (local.get $g0)) (v128.and (call $finite (local.get $nm)) (call $finite (local.get $np)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))))
        (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $np))
        (v128.store (i32.add (local.get $o0) (local.get $i)) (local.get $nm))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; Lion: K = b1, c1, b2, c2, decay, lr. The sign comes from comparisons (tfjs's wasm Sign
  ;; returns 0 below 1.19e-7, which would skip tiny updates).
  (func $lion (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $op i32) (param $o0 i32) (param $k i32)
    (local $i i32) (local $b1 v128) (local $c1 v128) (local $b2 v128) (local $c2 v128) (local $decay v128) (local $lr v128)
    (local $zero v128) (local $one v128)
    (local $pi v128) (local $gi v128) (local $m v128) (local $c v128) (local $sign v128) (local $nm v128) (local $np v128) (local $ok v128)
    (local.set $b1 (v128.load32_splat offset=0 (local.get $k)))
    (local.set $c1 (v128.load32_splat offset=4 (local.get $k)))
    (local.set $b2 (v128.load32_splat offset=8 (local.get $k)))
    (local.set $c2 (v128.load32_splat offset=12 (local.get $k)))
    (local.set $decay (v128.load32_splat offset=16 (local.get $k)))
    (local.set $lr (v128.load32_splat offset=20 (local.get $k)))
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m (v128.load (i32.add (local.get $s0) (local.get $i))))
        (local.set $c (f32x4.add (f32x4.mul (local.get $b1) (local.get $m)) (f32x4.mul (local.get $c1) (local.get $gi))))
        (local.set $sign (v128.bitselect (local.get $one) (local.get $zero) (f32x4.gt (local.get $c) (local.get $zero))))
        (local.set $sign (v128.bitselect (f32x4.neg (local.get $one)) (local.get $sign) (f32x4.lt (local.get $c) (local.get $zero))))
        (local.set $np (f32x4.sub (f32x4.mul (local.get $pi) (local.get $decay)) (f32x4.mul (local.get $lr) (local.get $sign))))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $b2) (local.get $m)) (f32x4.mul (local.get $c2) (local.get $gi))))
        (local.set $ok (v128.and (call $finite (local.get $gi)) (v128.and (call $finite (local.get $nm)) (call $finite (local.get $np)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))))
        (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $np))
        (v128.store (i32.add (local.get $o0) (local.get $i)) (local.get $nm))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; LARS first pass: sums of squares of p and of g~ = g + wd p (finite lanes); the trust rule's
  ;; first pass with wd = 0 (the LAMB8bit update u as g).
  (func $larsNorms (param $n4 i32) (param $p i32) (param $g i32) (param $wd v128) (param $k i32)
    (local $i i32) (local $pi v128) (local $gi v128)
    (local $pLo v128) (local $pHi v128) (local $gLo v128) (local $gHi v128)
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gi (f32x4.add (v128.load (i32.add (local.get $g) (local.get $i))) (f32x4.mul (local.get $wd) (local.get $pi))))
        (local.set $gi (v128.and (local.get $gi) (call $finite (local.get $gi))))
        (local.set $pLo (f64x2.add (local.get $pLo) (call $sqLo (local.get $pi))))
        (local.set $pHi (f64x2.add (local.get $pHi) (call $sqHi (local.get $pi))))
        (local.set $gLo (f64x2.add (local.get $gLo) (call $sqLo (local.get $gi))))
        (local.set $gHi (f64x2.add (local.get $gHi) (call $sqHi (local.get $gi))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (v128.store offset=64 (local.get $k) (local.get $pLo))
    (v128.store offset=80 (local.get $k) (local.get $pHi))
    (v128.store offset=96 (local.get $k) (local.get $gLo))
    (v128.store offset=112 (local.get $k) (local.get $gHi)))

  ;; LARS second pass: K = mu, wd, nesterov (0/1), scale (lr * trust).
  (func $larsApply (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $op i32) (param $o0 i32) (param $k i32)
    (local $i i32) (local $mu v128) (local $wd v128) (local $nest v128) (local $s v128)
    (local $pi v128) (local $gi v128) (local $sg v128) (local $m v128) (local $nm v128) (local $np v128) (local $ok v128)
    (local.set $mu (v128.load32_splat offset=0 (local.get $k)))
    (local.set $wd (v128.load32_splat offset=4 (local.get $k)))
    (local.set $nest (f32x4.ne (v128.load32_splat offset=8 (local.get $k)) (f32x4.splat (f32.const 0))))
    (local.set $s (v128.load32_splat offset=12 (local.get $k)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $m (v128.load (i32.add (local.get $s0) (local.get $i))))
        (local.set $gi (f32x4.add (v128.load (i32.add (local.get $g) (local.get $i))) (f32x4.mul (local.get $wd) (local.get $pi))))
        (local.set $sg (f32x4.mul (local.get $s) (local.get $gi)))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $mu) (local.get $m)) (local.get $sg)))
        (local.set $np (f32x4.sub (local.get $pi)
          (v128.bitselect (f32x4.add (f32x4.mul (local.get $mu) (local.get $nm)) (local.get $sg)) (local.get $nm) (local.get $nest))))
        (local.set $ok (v128.and (call $finite (local.get $gi)) (v128.and (call $finite (local.get $nm)) (call $finite (local.get $np)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))))
        (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $np))
        (v128.store (i32.add (local.get $o0) (local.get $i)) (local.get $nm))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; LAMB first pass: new moments, the update u into $op, sums of squares of p and u.
  ;; K = b1, c1, b2, c2, bc1, bc2, eps, wd.
  (func $lambMoments (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $s1 i32) (param $op i32) (param $o0 i32) (param $o1 i32) (param $k i32)
    (local $i i32) (local $b1 v128) (local $c1 v128) (local $b2 v128) (local $c2 v128) (local $bc1 v128) (local $bc2 v128) (local $eps v128) (local $wd v128)
    (local $pi v128) (local $gi v128) (local $m v128) (local $v v128) (local $nm v128) (local $nv v128) (local $u v128) (local $ok v128)
    (local $pLo v128) (local $pHi v128) (local $uLo v128) (local $uHi v128)
    (local.set $b1 (v128.load32_splat offset=0 (local.get $k)))
    (local.set $c1 (v128.load32_splat offset=4 (local.get $k)))
    (local.set $b2 (v128.load32_splat offset=8 (local.get $k)))
    (local.set $c2 (v128.load32_splat offset=12 (local.get $k)))
    (local.set $bc1 (v128.load32_splat offset=16 (local.get $k)))
    (local.set $bc2 (v128.load32_splat offset=20 (local.get $k)))
    (local.set $eps (v128.load32_splat offset=24 (local.get $k)))
    (local.set $wd (v128.load32_splat offset=28 (local.get $k)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $i))))
        (local.set $m (v128.load (i32.add (local.get $s0) (local.get $i))))
        (local.set $v (v128.load (i32.add (local.get $s1) (local.get $i))))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $b1) (local.get $m)) (f32x4.mul (local.get $c1) (local.get $gi))))
        (local.set $nv (f32x4.add (f32x4.mul (local.get $b2) (local.get $v))
                                  (f32x4.mul (f32x4.mul (local.get $c2) (local.get $gi)) (local.get $gi))))
        ;; (nm / bc1) / (sqrt(nv / bc2) + eps) + wd * p
        (local.set $u (f32x4.add
          (f32x4.div (f32x4.div (local.get $nm) (local.get $bc1))
                     (f32x4.add (f32x4.sqrt (f32x4.div (local.get $nv) (local.get $bc2))) (local.get $eps)))
          (f32x4.mul (local.get $wd) (local.get $pi))))
        (local.set $ok (v128.and (v128.and (call $finite (local.get $gi)) (call $finite (local.get $nm)))
                                 (v128.and (call $finite (local.get $nv)) (call $finite (local.get $u)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $u (v128.and (local.get $u) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))
            (local.set $nv (v128.bitselect (local.get $nv) (local.get $v) (local.get $ok)))))
        (v128.store (i32.add (local.get $op) (local.get $i)) (local.get $u))
        (v128.store (i32.add (local.get $o0) (local.get $i)) (local.get $nm))
        (v128.store (i32.add (local.get $o1) (local.get $i)) (local.get $nv))
        (local.set $pLo (f64x2.add (local.get $pLo) (call $sqLo (local.get $pi))))
        (local.set $pHi (f64x2.add (local.get $pHi) (call $sqHi (local.get $pi))))
        (local.set $uLo (f64x2.add (local.get $uLo) (call $sqLo (local.get $u))))
        (local.set $uHi (f64x2.add (local.get $uHi) (call $sqHi (local.get $u))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next)))
    (v128.store offset=64 (local.get $k) (local.get $pLo))
    (v128.store offset=80 (local.get $k) (local.get $pHi))
    (v128.store offset=96 (local.get $k) (local.get $uLo))
    (v128.store offset=112 (local.get $k) (local.get $uHi)))

  ;; LAMB second pass: p' = p - scale * u (u at $op, overwritten). K: scale at 32.
  (func $lambApply (param $n4 i32) (param $p i32) (param $op i32) (param $k i32)
    (local $i i32) (local $s v128) (local $pi v128) (local $np v128)
    (local.set $s (v128.load32_splat offset=32 (local.get $k)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $np (f32x4.sub (local.get $pi) (f32x4.mul (local.get $s) (v128.load (i32.add (local.get $op) (local.get $i))))))
        (v128.store (i32.add (local.get $op) (local.get $i))
          (v128.bitselect (local.get $np) (local.get $pi) (call $finite (local.get $np))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; Trust second pass: p' = p - scale * u (u at $g). K: scale at 0.
  (func $trustApply (param $n4 i32) (param $p i32) (param $g i32) (param $op i32) (param $k i32)
    (local $i i32) (local $s v128) (local $pi v128) (local $np v128)
    (local.set $s (v128.load32_splat offset=0 (local.get $k)))
    (local.set $n4 (i32.shl (local.get $n4) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $pi (v128.load (i32.add (local.get $p) (local.get $i))))
        (local.set $np (f32x4.sub (local.get $pi) (f32x4.mul (local.get $s) (v128.load (i32.add (local.get $g) (local.get $i))))))
        (v128.store (i32.add (local.get $op) (local.get $i))
          (v128.bitselect (local.get $np) (local.get $pi) (call $finite (local.get $np))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $next))))

  ;; The single pass of Adam, momentum and Lion, or the second pass of LARS, LAMB and trust.
  (func (export "apply") (param $rule i32) (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $s1 i32)
                         (param $op i32) (param $o0 i32) (param $o1 i32) (param $k i32)
    (if (i32.eq (local.get $rule) (global.get $ADAM))
      (then (call $adam (local.get $n4) (local.get $p) (local.get $g) (local.get $s0) (local.get $s1) (local.get $op) (local.get $o0) (local.get $o1) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $MOMENTUM))
      (then (call $momentum (local.get $n4) (local.get $p) (local.get $g) (local.get $s0) (local.get $op) (local.get $o0) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $LION))
      (then (call $lion (local.get $n4) (local.get $p) (local.get $g) (local.get $s0) (local.get $op) (local.get $o0) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $LARS))
      (then (call $larsApply (local.get $n4) (local.get $p) (local.get $g) (local.get $s0) (local.get $op) (local.get $o0) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $LAMB))
      (then (call $lambApply (local.get $n4) (local.get $p) (local.get $op) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $TRUST))
      (then (call $trustApply (local.get $n4) (local.get $p) (local.get $g) (local.get $op) (local.get $k)))))

  ;; The first pass of LARS, LAMB and trust (norm lanes at $k + 64).
  (func (export "norms") (param $rule i32) (param $n4 i32) (param $p i32) (param $g i32) (param $s0 i32) (param $s1 i32)
                         (param $op i32) (param $o0 i32) (param $o1 i32) (param $k i32)
    (if (i32.eq (local.get $rule) (global.get $LARS))
      (then (call $larsNorms (local.get $n4) (local.get $p) (local.get $g) (v128.load32_splat offset=4 (local.get $k)) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $TRUST))
      (then (call $larsNorms (local.get $n4) (local.get $p) (local.get $g) (f32x4.splat (f32.const 0)) (local.get $k))))
    (if (i32.eq (local.get $rule) (global.get $LAMB))
      (then (call $lambMoments (local.get $n4) (local.get $p) (local.get $g) (local.get $s0) (local.get $s1) (local.get $op) (local.get $o0) (local.get $o1) (local.get $k)))))
)
