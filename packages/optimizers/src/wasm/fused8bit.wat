;; The fused 8-bit optimizer step (dequantize, update, requantize) in WebAssembly with 128-bit SIMD.
;; Compiled by scripts/build-wasm.mjs into src/wasm/fused8bitWasm.ts; driven by src/fused8bitSimd.ts.
;;
;; It reproduces `fused8bitReference` (src/fused8bit.ts, src/updateRules.ts) bit for bit: the
;; update runs in float64 (f64x2 vectors of two elements) with the reference's operations in the
;; reference's order (JavaScript numbers are doubles, and neither side fuses multiply-adds), new
;; parameters and states are rounded to float32 as the reference's Float32Array stores do, and
;; the nearest code comes from the same bucket table as `quantizeInto` (src/fastQuantize.ts).
;;
;; The memory is imported: the tfjs wasm backend's heap (the kernel then reads its inputs and
;; writes its outputs where tfjs keeps them) or a memory of the host's own. The host places a
;; table area at `tab` (offsets from `tab`, exported as globals):
;;   [0, 128)          K: float64 constants of the call (see each rule)
;;   MAP0 / MAP1       the signed / unsigned map as float64 (256 each)
;;   THR0 / THR1       per code c: the smallest float32 above the midpoint of entries c and c+1, so
;;                     "x > midpoint" is "x >= THR[c]" (THR[255] = +Infinity)
;;   BASE0 / BASE1     per bucket (top 17 bits of a float32): midpoints below the bucket (u8)
;;   SCRATCH           two float32 arrays of one block (the new states before quantization)
;;
;; Elements go four at a time (two per f64x2). When n is not a multiple of 4 the host copies the
;; inputs into its own memory and pads them with p = g = 0 and the code of 0.0, so the padded lanes
;; hold exact zeros that leave every block maximum alone; it clears their codes after.
(module
  (import "env" "memory" (memory 1))
  (global $MAP0 (export "MAP0") i32 (i32.const 256))
  (global $MAP1 (export "MAP1") i32 (i32.const 2304))
  (global $THR0 (export "THR0") i32 (i32.const 4352))
  (global $THR1 (export "THR1") i32 (i32.const 5376))
  (global $BASE0 (export "BASE0") i32 (i32.const 6400))
  (global $BASE1 (export "BASE1") i32 (i32.const 137472))
  (global $SCRATCH (export "SCRATCH") i32 (i32.const 268544))
  (global (export "TABLE_BYTES") i32 (i32.const 268544))

  ;; Nearest codes of src[0..len) * (1 / amax) into dst[0..len) (len a multiple of 4), as
  ;; quantizeInto: x = fround(s * fround(1 / amax)); c = BASE[bits(x) >>> 15]; code = c + (x > mid c).
  (func $quantize (param $src i32) (param $len i32) (param $amax f32) (param $dst i32) (param $base i32) (param $thr i32)
    (local $inv v128) (local $x v128) (local $k v128) (local $j i32) (local $c i32)
    ;; f32 division of float32 operands equals JavaScript's fround(1 / amax).
    (local.set $inv (f32x4.splat
      (select (f32.div (f32.const 1) (local.get $amax)) (f32.const 0) (f32.gt (local.get $amax) (f32.const 0)))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $len)))
        (local.set $x (f32x4.mul (v128.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv)))
        (local.set $k (i32x4.shr_u (local.get $x) (i32.const 15)))
        ;; lane 0
        (local.set $c (i32.load8_u (i32.add (local.get $base) (i32x4.extract_lane 0 (local.get $k)))))
        (i32.store8 (i32.add (local.get $dst) (local.get $j))
          (i32.add (local.get $c) (f32.ge (f32x4.extract_lane 0 (local.get $x))
            (f32.load (i32.add (local.get $thr) (i32.shl (local.get $c) (i32.const 2)))))))
        ;; lane 1
        (local.set $c (i32.load8_u (i32.add (local.get $base) (i32x4.extract_lane 1 (local.get $k)))))
        (i32.store8 offset=1 (i32.add (local.get $dst) (local.get $j))
          (i32.add (local.get $c) (f32.ge (f32x4.extract_lane 1 (local.get $x))
            (f32.load (i32.add (local.get $thr) (i32.shl (local.get $c) (i32.const 2)))))))
        ;; lane 2
        (local.set $c (i32.load8_u (i32.add (local.get $base) (i32x4.extract_lane 2 (local.get $k)))))
        (i32.store8 offset=2 (i32.add (local.get $dst) (local.get $j))
          (i32.add (local.get $c) (f32.ge (f32x4.extract_lane 2 (local.get $x))
            (f32.load (i32.add (local.get $thr) (i32.shl (local.get $c) (i32.const 2)))))))
        ;; lane 3
        (local.set $c (i32.load8_u (i32.add (local.get $base) (i32x4.extract_lane 3 (local.get $k)))))
        (i32.store8 offset=3 (i32.add (local.get $dst) (local.get $j))
          (i32.add (local.get $c) (f32.ge (f32x4.extract_lane 3 (local.get $x))
            (f32.load (i32.add (local.get $thr) (i32.shl (local.get $c) (i32.const 2)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next))))

  ;; Larger lane of a non-negative f64x2 maximum, as float32.
  (func $hmax (param $v v128) (result f32)
    (f32.demote_f64 (f64.max (f64x2.extract_lane 0 (local.get $v)) (f64x2.extract_lane 1 (local.get $v)))))

  ;; Adam / AdamW (algo 0) and LAMB (algo 3) over one block, four elements per step (two f64x2
  ;; halves, lo and hi), pointers advanced until $p reaches $end: K = b1, 1-b1, b2, 1-b2, l2, decay,
  ;; lr/bc1, 1/sqrt(bc2), eps, bc1, bc2, wd. Writes q (LAMB: the update) and the new float32 states
  ;; to the scratch blocks s0, s1; leaves the block maxima in the globals.
  (global $mx0 (mut f32) (f32.const 0))
  (global $mx1 (mut f32) (f32.const 0))

  (func $adamBlock (param $lamb i32) (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $c1 i32)
                   (param $a0 f64) (param $a1 f64) (param $s0 i32) (param $s1 i32) (param $tab i32)
    (local $b1 v128) (local $k1 v128) (local $b2 v128) (local $k2 v128) (local $l2 v128) (local $decay v128)
    (local $ss v128) (local $isb v128) (local $eps v128) (local $bc1 v128) (local $bc2 v128) (local $wd v128)
    (local $va0 v128) (local $va1 v128) (local $zero v128) (local $mx0 v128) (local $mx1 v128) (local $ok v128)
    (local $pv v128) (local $gv v128)
    (local $mlo v128) (local $vlo v128) (local $pilo v128) (local $glo v128) (local $gilo v128) (local $nmlo v128) (local $nvlo v128) (local $nplo v128)
    (local $mhi v128) (local $vhi v128) (local $pihi v128) (local $ghi v128) (local $gihi v128) (local $nmhi v128) (local $nvhi v128) (local $nphi v128)
    (local.set $b1 (v128.load64_splat offset=0 (local.get $tab)))
    (local.set $k1 (v128.load64_splat offset=8 (local.get $tab)))
    (local.set $b2 (v128.load64_splat offset=16 (local.get $tab)))
    (local.set $k2 (v128.load64_splat offset=24 (local.get $tab)))
    (local.set $l2 (v128.load64_splat offset=32 (local.get $tab)))
    (local.set $decay (v128.load64_splat offset=40 (local.get $tab)))
    (local.set $ss (v128.load64_splat offset=48 (local.get $tab)))
    (local.set $isb (v128.load64_splat offset=56 (local.get $tab)))
    (local.set $eps (v128.load64_splat offset=64 (local.get $tab)))
    (local.set $bc1 (v128.load64_splat offset=72 (local.get $tab)))
    (local.set $bc2 (v128.load64_splat offset=80 (local.get $tab)))
    (local.set $wd (v128.load64_splat offset=88 (local.get $tab)))
    (local.set $va0 (f64x2.splat (local.get $a0)))
    (local.set $va1 (f64x2.splat (local.get $a1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; dequantize: map[code] * absmax (exact in float64)
        (local.set $mlo (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c0)) (i32.const 3)))))
            (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 3)))))
          (local.get $va0)))
        (local.set $mhi (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c0)) (i32.const 3)))))
            (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c0)) (i32.const 3)))))
          (local.get $va0)))
        (local.set $vlo (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c1)) (i32.const 3)))))
            (f64.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c1)) (i32.const 3)))))
          (local.get $va1)))
        (local.set $vhi (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c1)) (i32.const 3)))))
            (f64.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c1)) (i32.const 3)))))
          (local.get $va1)))
        (local.set $pv (v128.load (local.get $p)))
        (local.set $gv (v128.load (local.get $g)))
        (local.set $pilo (f64x2.promote_low_f32x4 (local.get $pv)))
        (local.set $pihi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $pv) (local.get $pv))))
        (local.set $glo (f64x2.promote_low_f32x4 (local.get $gv)))
        (local.set $ghi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $gv) (local.get $gv))))
        (local.set $gilo (local.get $glo))
        (local.set $gihi (local.get $ghi))
        (local.set $gilo (f64x2.add (local.get $gilo) (f64x2.mul (local.get $l2) (local.get $pilo))))
        (local.set $nmlo (f64x2.add (f64x2.mul (local.get $b1) (local.get $mlo)) (f64x2.mul (local.get $k1) (local.get $gilo))))
        (local.set $nvlo (f64x2.add (f64x2.mul (local.get $b2) (local.get $vlo))
                                  (f64x2.mul (f64x2.mul (local.get $k2) (local.get $gilo)) (local.get $gilo))))
        (if (local.get $lamb)
          (then
            ;; nm / bc1 / (sqrt(nv / bc2) + eps) + wd * p
            (local.set $nplo
              (f64x2.add
                (f64x2.div (f64x2.div (local.get $nmlo) (local.get $bc1))
                           (f64x2.add (f64x2.sqrt (f64x2.div (local.get $nvlo) (local.get $bc2))) (local.get $eps)))
                (f64x2.mul (local.get $wd) (local.get $pilo)))))
          (else
            ;; p * decay - (lr / bc1) * nm / (sqrt(nv) / sqrt(bc2) + eps)
            (local.set $nplo
              (f64x2.sub (f64x2.mul (local.get $pilo) (local.get $decay))
                         (f64x2.div (f64x2.mul (local.get $ss) (local.get $nmlo))
                                    (f64x2.add (f64x2.mul (f64x2.sqrt (local.get $nvlo)) (local.get $isb)) (local.get $eps)))))))
        (local.set $gihi (f64x2.add (local.get $gihi) (f64x2.mul (local.get $l2) (local.get $pihi))))
        (local.set $nmhi (f64x2.add (f64x2.mul (local.get $b1) (local.get $mhi)) (f64x2.mul (local.get $k1) (local.get $gihi))))
        (local.set $nvhi (f64x2.add (f64x2.mul (local.get $b2) (local.get $vhi))
                                  (f64x2.mul (f64x2.mul (local.get $k2) (local.get $gihi)) (local.get $gihi))))
        (if (local.get $lamb)
          (then
            ;; nm / bc1 / (sqrt(nv / bc2) + eps) + wd * p
            (local.set $nphi
              (f64x2.add
                (f64x2.div (f64x2.div (local.get $nmhi) (local.get $bc1))
                           (f64x2.add (f64x2.sqrt (f64x2.div (local.get $nvhi) (local.get $bc2))) (local.get $eps)))
                (f64x2.mul (local.get $wd) (local.get $pihi)))))
          (else
            ;; p * decay - (lr / bc1) * nm / (sqrt(nv) / sqrt(bc2) + eps)
            (local.set $nphi
              (f64x2.sub (f64x2.mul (local.get $pihi) (local.get $decay))
                         (f64x2.div (f64x2.mul (local.get $ss) (local.get $nmhi))
                                    (f64x2.add (f64x2.mul (f64x2.sqrt (local.get $nvhi)) (local.get $isb)) (local.get $eps)))))))
        ;; Rare: a non-finite gradient (g - g is NaN for NaN and +-Infinity) keeps the element's
        ;; parameter (LAMB: update 0) and states.
        (if (i32.eqz (i32x4.all_true (f32x4.eq (f32x4.sub (local.get $gv) (local.get $gv)) (local.get $zero))))
          (then
            (local.set $ok (f64x2.eq (f64x2.sub (local.get $glo) (local.get $glo)) (local.get $zero)))
            (local.set $nplo (v128.bitselect (local.get $nplo) (select (result v128) (local.get $zero) (local.get $pilo) (local.get $lamb)) (local.get $ok)))
            (local.set $nmlo (v128.bitselect (local.get $nmlo) (local.get $mlo) (local.get $ok)))
            (local.set $nvlo (v128.bitselect (local.get $nvlo) (local.get $vlo) (local.get $ok)))
            (local.set $ok (f64x2.eq (f64x2.sub (local.get $ghi) (local.get $ghi)) (local.get $zero)))
            (local.set $nphi (v128.bitselect (local.get $nphi) (select (result v128) (local.get $zero) (local.get $pihi) (local.get $lamb)) (local.get $ok)))
            (local.set $nmhi (v128.bitselect (local.get $nmhi) (local.get $mhi) (local.get $ok)))
            (local.set $nvhi (v128.bitselect (local.get $nvhi) (local.get $vhi) (local.get $ok)))
))
        (v128.store (local.get $q) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $nplo)) (f32x4.demote_f64x2_zero (local.get $nphi))))
        (v128.store (local.get $s0) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $nmlo)) (f32x4.demote_f64x2_zero (local.get $nmhi))))
        (v128.store (local.get $s1) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (f32x4.demote_f64x2_zero (local.get $nvlo)) (f32x4.demote_f64x2_zero (local.get $nvhi))))
        ;; pmax(acc, x) = acc < x ? x : acc, the reference's `if (x > acc) acc = x` (NaN skipped)
        (local.set $mx0 (f64x2.pmax (f64x2.pmax (local.get $mx0) (f64x2.abs (local.get $nmlo))) (f64x2.abs (local.get $nmhi))))
        (local.set $mx1 (f64x2.pmax (f64x2.pmax (local.get $mx1) (local.get $nvlo)) (local.get $nvhi)))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
        (local.set $c1 (i32.add (local.get $c1) (i32.const 4)))
        (br $next)))
    (global.set $mx0 (call $hmax (local.get $mx0)))
    (global.set $mx1 (call $hmax (local.get $mx1))))

  ;; SGD momentum (algo 1): K = mu, 1 - dampening, wd, lr, nesterov (0/1), fresh (0/1).
  (func $momentumBlock (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $a0 f64) (param $s0 i32) (param $tab i32)
    (local $mu v128) (local $k v128) (local $wd v128) (local $lr v128) (local $nest v128) (local $fresh v128)
    (local $va0 v128) (local $zero v128) (local $mx0 v128)
    (local $m v128) (local $pi v128) (local $g0 v128) (local $gi v128) (local $ok v128) (local $nm v128) (local $np v128)
    (local.set $mu (v128.load64_splat offset=0 (local.get $tab)))
    (local.set $k (v128.load64_splat offset=8 (local.get $tab)))
    (local.set $wd (v128.load64_splat offset=16 (local.get $tab)))
    (local.set $lr (v128.load64_splat offset=24 (local.get $tab)))
    ;; all-ones lanes where the flag is set
    (local.set $nest (f64x2.ne (v128.load64_splat offset=32 (local.get $tab)) (local.get $zero)))
    (local.set $fresh (f64x2.ne (v128.load64_splat offset=40 (local.get $tab)) (local.get $zero)))
    (local.set $va0 (f64x2.splat (local.get $a0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u (local.get $c0)) (i32.const 3)))))
            (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 3)))))
          (local.get $va0)))
        (local.set $pi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (local.set $g0 (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
        (local.set $ok (f64x2.eq (f64x2.sub (local.get $g0) (local.get $g0)) (local.get $zero)))
        (local.set $gi (f64x2.add (local.get $g0) (f64x2.mul (local.get $wd) (local.get $pi))))
        ;; fresh ? gi : mu * m + (1 - dampening) * gi
        (local.set $nm (v128.bitselect (local.get $gi)
          (f64x2.add (f64x2.mul (local.get $mu) (local.get $m)) (f64x2.mul (local.get $k) (local.get $gi)))
          (local.get $fresh)))
        ;; p - lr * (nesterov ? gi + mu * nm : nm)
        (local.set $np (f64x2.sub (local.get $pi) (f64x2.mul (local.get $lr)
          (v128.bitselect (f64x2.add (local.get $gi) (f64x2.mul (local.get $mu) (local.get $nm))) (local.get $nm) (local.get $nest)))))
        (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
        (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))
        (v128.store64_lane 0 (local.get $q) (f32x4.demote_f64x2_zero (local.get $np)))
        (v128.store64_lane 0 (local.get $s0) (f32x4.demote_f64x2_zero (local.get $nm)))
        (local.set $mx0 (f64x2.pmax (local.get $mx0) (f64x2.abs (local.get $nm))))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 2)))
        (br $next)))
    (global.set $mx0 (call $hmax (local.get $mx0))))

  ;; Lion (algo 2): K = b1, 1 - b1, b2, 1 - b2, decay (1 - lr * wd), lr.
  (func $lionBlock (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $a0 f64) (param $s0 i32) (param $tab i32)
    (local $b1 v128) (local $k1 v128) (local $b2 v128) (local $k2 v128) (local $decay v128) (local $lr v128)
    (local $va0 v128) (local $zero v128) (local $one v128) (local $mx0 v128)
    (local $m v128) (local $pi v128) (local $gi v128) (local $ok v128) (local $c v128) (local $sign v128) (local $nm v128) (local $np v128)
    (local.set $b1 (v128.load64_splat offset=0 (local.get $tab)))
    (local.set $k1 (v128.load64_splat offset=8 (local.get $tab)))
    (local.set $b2 (v128.load64_splat offset=16 (local.get $tab)))
    (local.set $k2 (v128.load64_splat offset=24 (local.get $tab)))
    (local.set $decay (v128.load64_splat offset=32 (local.get $tab)))
    (local.set $lr (v128.load64_splat offset=40 (local.get $tab)))
    (local.set $one (f64x2.splat (f64.const 1)))
    (local.set $va0 (f64x2.splat (local.get $a0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f64x2.mul
          (f64x2.replace_lane 1
            (f64x2.splat (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u (local.get $c0)) (i32.const 3)))))
            (f64.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 3)))))
          (local.get $va0)))
        (local.set $pi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $p))))
        (local.set $gi (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $g))))
        (local.set $ok (f64x2.eq (f64x2.sub (local.get $gi) (local.get $gi)) (local.get $zero)))
        (local.set $c (f64x2.add (f64x2.mul (local.get $b1) (local.get $m)) (f64x2.mul (local.get $k1) (local.get $gi))))
        ;; sign(c): 1, -1 or 0
        (local.set $sign (v128.bitselect (local.get $one) (local.get $zero) (f64x2.gt (local.get $c) (local.get $zero))))
        (local.set $sign (v128.bitselect (f64x2.neg (local.get $one)) (local.get $sign) (f64x2.lt (local.get $c) (local.get $zero))))
        (local.set $np (f64x2.sub (f64x2.mul (local.get $pi) (local.get $decay)) (f64x2.mul (local.get $lr) (local.get $sign))))
        (local.set $nm (f64x2.add (f64x2.mul (local.get $b2) (local.get $m)) (f64x2.mul (local.get $k2) (local.get $gi))))
        (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
        (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))
        (v128.store64_lane 0 (local.get $q) (f32x4.demote_f64x2_zero (local.get $np)))
        (v128.store64_lane 0 (local.get $s0) (f32x4.demote_f64x2_zero (local.get $nm)))
        (local.set $mx0 (f64x2.pmax (local.get $mx0) (f64x2.abs (local.get $nm))))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 8)))
        (local.set $p (i32.add (local.get $p) (i32.const 8)))
        (local.set $q (i32.add (local.get $q) (i32.const 8)))
        (local.set $g (i32.add (local.get $g) (i32.const 8)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 2)))
        (br $next)))
    (global.set $mx0 (call $hmax (local.get $mx0))))

  ;; The step over n4 elements (n padded to a multiple of 4: the host pads, or n % 4 == 0) in
  ;; blocks of $bs: reads the parameter at $p and writes the new one (LAMB: the update) at $q,
  ;; reads the packed state at $st and writes the new one at $out ($q may equal $p, $out $st);
  ;; $tab is the table area. A packed state of S states: S code arrays of n4 bytes, then S arrays
  ;; of float32 block maxima.
  (func (export "step") (param $algo i32) (param $n4 i32) (param $bs i32) (param $p i32) (param $q i32) (param $g i32)
                        (param $st i32) (param $out i32) (param $tab i32)
    (local $start i32) (local $end i32) (local $len i32) (local $b i32) (local $s0 i32) (local $s1 i32)
    (local $two i32) (local $abs i32) (local $absOut i32) (local $nbBytes i32)
    (local.set $s0 (i32.add (local.get $tab) (global.get $SCRATCH)))
    (local.set $s1 (i32.add (local.get $s0) (i32.shl (local.get $bs) (i32.const 2))))
    (local.set $two (i32.or (i32.eqz (local.get $algo)) (i32.eq (local.get $algo) (i32.const 3))))
    ;; the maxima follow the S code arrays; state 1's follow state 0's (ceil(n4 / bs) each)
    (local.set $abs (i32.add (local.get $st) (i32.mul (local.get $n4) (i32.add (local.get $two) (i32.const 1)))))
    (local.set $absOut (i32.add (local.get $out) (i32.mul (local.get $n4) (i32.add (local.get $two) (i32.const 1)))))
    (local.set $nbBytes (i32.shl (i32.div_u (i32.sub (i32.add (local.get $n4) (local.get $bs)) (i32.const 1)) (local.get $bs)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $start) (local.get $n4)))
        (local.set $end (i32.add (local.get $start) (local.get $bs)))
        (if (i32.gt_u (local.get $end) (local.get $n4)) (then (local.set $end (local.get $n4))))
        (local.set $len (i32.sub (local.get $end) (local.get $start)))
        ;; byte offset of this block's maximum
        (local.set $b (i32.shl (i32.div_u (local.get $start) (local.get $bs)) (i32.const 2)))
        (if (local.get $two)
          (then (call $adamBlock (i32.eq (local.get $algo) (i32.const 3))
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (i32.add (i32.add (local.get $st) (local.get $n4)) (local.get $start))
                  (f64.promote_f32 (f32.load (i32.add (local.get $abs) (local.get $b))))
                  (f64.promote_f32 (f32.load (i32.add (i32.add (local.get $abs) (local.get $nbBytes)) (local.get $b))))
                  (local.get $s0) (local.get $s1) (local.get $tab))))
        (if (i32.eq (local.get $algo) (i32.const 1))
          (then (call $momentumBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (f64.promote_f32 (f32.load (i32.add (local.get $abs) (local.get $b)))) (local.get $s0) (local.get $tab))))
        (if (i32.eq (local.get $algo) (i32.const 2))
          (then (call $lionBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (f64.promote_f32 (f32.load (i32.add (local.get $abs) (local.get $b)))) (local.get $s0) (local.get $tab))))
        (f32.store (i32.add (local.get $absOut) (local.get $b)) (global.get $mx0))
        (call $quantize (local.get $s0) (local.get $len) (global.get $mx0) (i32.add (local.get $out) (local.get $start))
          (i32.add (local.get $tab) (global.get $BASE0)) (i32.add (local.get $tab) (global.get $THR0)))
        (if (local.get $two)
          (then
            (f32.store (i32.add (i32.add (local.get $absOut) (local.get $nbBytes)) (local.get $b)) (global.get $mx1))
            (call $quantize (local.get $s1) (local.get $len) (global.get $mx1) (i32.add (i32.add (local.get $out) (local.get $n4)) (local.get $start))
              (i32.add (local.get $tab) (global.get $BASE1)) (i32.add (local.get $tab) (global.get $THR1)))))
        (local.set $start (local.get $end))
        (br $next))))
)
