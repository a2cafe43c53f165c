;; The fused 8-bit optimizer step (dequantize, update, requantize) in WebAssembly with 128-bit SIMD.
;; Compiled by scripts/build-wasm.mjs into src/wasm/fused8bitWasm.ts; driven by src/fused8bitSimd.ts.
;;
;; It reproduces `fused8bitReference` (src/fused8bit.ts, src/updateRules.ts) bit for bit: the
;; reference computes in float32, rounding after every operation (Math.fround), and the module does
;; the same operations in the same order on f32x4 vectors (WebAssembly never fuses multiply-adds,
;; and +, -, *, / and sqrt are correctly rounded on both sides); the nearest code comes from the
;; same bucket table as `quantizeInto` (src/fastQuantize.ts).
;;
;; The memory is imported: the tfjs wasm backend's heap (the kernel then reads its inputs and
;; writes its outputs where tfjs keeps them) or a memory of the host's own. The host places a
;; table area at `tab` (offsets from `tab`, exported as globals):
;;   [0, 128)          K: float32 constants of the call (see each rule; `ruleConstants` in TS)
;;   MAP0 / MAP1       the signed / unsigned map (256 float32 each)
;;   THR0 / THR1       per code c: the smallest float32 above the midpoint of entries c and c+1, so
;;                     "x > midpoint" is "x >= THR[c]" (THR[255] = +Infinity)
;;   BASE0 / BASE1     per bucket (top 17 bits of a float32): midpoints below the bucket (u8)
;;   TAB4              the 4-bit area (its own K, the two 16-entry maps, thresholds; see below)
;;   SCRATCH           two float32 arrays of one block (the new states before quantization), then
;;                     two byte arrays of one block (4-bit codes unpacked to one per byte)
;;
;; Elements go four at a time (one f32x4). When n is not a multiple of 4 the host copies the
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
  ;; The 4-bit area: laid out like the start of the table area (K at 0, map 0 at 256, map 1 at
  ;; 2304, 16 float32 each), so the rules below run unchanged on 4-bit states with $tab pointing
  ;; here; then per map the 15 thresholds of `quantize4` (THR4_0 / THR4_1, offsets from TAB4).
  (global $TAB4 (export "TAB4") i32 (i32.const 268544))
  (global $THR4_0 (export "THR4_0") i32 (i32.const 2368))
  (global $THR4_1 (export "THR4_1") i32 (i32.const 2432))
  ;; Scratch: two float32 blocks (new states), then two byte blocks (4-bit codes unpacked).
  (global $SCRATCH (export "SCRATCH") i32 (i32.const 271104))
  (global (export "TABLE_BYTES") i32 (i32.const 271104))
  ;; The rule ids of ALGO (src/kernelDefs.ts), exported so a test can compare.
  (global $ADAM (export "ALGO_ADAM") i32 (i32.const 0))
  (global $MOMENTUM (export "ALGO_MOMENTUM") i32 (i32.const 1))
  (global $LION (export "ALGO_LION") i32 (i32.const 2))
  (global $LAMB (export "ALGO_LAMB") i32 (i32.const 3))

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

  ;; Largest lane of a maximum of non-negative float32 lanes.
  (func $hmax (param $v v128) (result f32)
    (f32.max (f32.max (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
             (f32.max (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))

  ;; The rules below go over one block four elements at a time, advancing their pointers until $p
  ;; reaches $end: p (read), q (new parameter), g, the codes c0 / c1, the scratch blocks s0 / s1
  ;; (new states). They leave the block maxima of the new states in these globals.
  (global $mx0 (mut f32) (f32.const 0))
  (global $mx1 (mut f32) (f32.const 0))

  ;; Adam / AdamW (algo 0) and LAMB (algo 3, writes the update to q). K = b1, 1-b1, b2, 1-b2, l2,
  ;; decay, lr/bc1, 1/sqrt(bc2), eps, bc1, bc2, wd.
  (func $adamBlock (param $lamb i32) (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $c1 i32)
                   (param $a0 f32) (param $a1 f32) (param $s0 i32) (param $s1 i32) (param $tab i32)
    (local $b1 v128) (local $k1 v128) (local $b2 v128) (local $k2 v128) (local $l2 v128) (local $decay v128)
    (local $ss v128) (local $isb v128) (local $eps v128) (local $bc1 v128) (local $bc2 v128) (local $wd v128)
    (local $va0 v128) (local $va1 v128) (local $zero v128) (local $mx0 v128) (local $mx1 v128) (local $ok v128)
    (local $m v128) (local $v v128) (local $pi v128) (local $g0 v128) (local $gi v128) (local $nm v128) (local $nv v128) (local $np v128)
    (local.set $b1 (v128.load32_splat offset=0 (local.get $tab)))
    (local.set $k1 (v128.load32_splat offset=4 (local.get $tab)))
    (local.set $b2 (v128.load32_splat offset=8 (local.get $tab)))
    (local.set $k2 (v128.load32_splat offset=12 (local.get $tab)))
    (local.set $l2 (v128.load32_splat offset=16 (local.get $tab)))
    (local.set $decay (v128.load32_splat offset=20 (local.get $tab)))
    (local.set $ss (v128.load32_splat offset=24 (local.get $tab)))
    (local.set $isb (v128.load32_splat offset=28 (local.get $tab)))
    (local.set $eps (v128.load32_splat offset=32 (local.get $tab)))
    (local.set $bc1 (v128.load32_splat offset=36 (local.get $tab)))
    (local.set $bc2 (v128.load32_splat offset=40 (local.get $tab)))
    (local.set $wd (v128.load32_splat offset=44 (local.get $tab)))
    (local.set $va0 (f32x4.splat (local.get $a0)))
    (local.set $va1 (f32x4.splat (local.get $a1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        ;; dequantize: map[code] * absmax
        (local.set $m (f32x4.mul
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c0)) (i32.const 2)))))
          (local.get $va0)))
        (local.set $v (f32x4.mul
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
            (f32.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c1)) (i32.const 2)))))
            (f32.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c1)) (i32.const 2)))))
            (f32.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c1)) (i32.const 2)))))
            (f32.load offset=2304 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c1)) (i32.const 2)))))
          (local.get $va1)))
        (local.set $pi (v128.load (local.get $p)))
        (local.set $g0 (v128.load (local.get $g)))
        (local.set $gi (f32x4.add (local.get $g0) (f32x4.mul (local.get $l2) (local.get $pi))))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $b1) (local.get $m)) (f32x4.mul (local.get $k1) (local.get $gi))))
        (local.set $nv (f32x4.add (f32x4.mul (local.get $b2) (local.get $v))
                                  (f32x4.mul (f32x4.mul (local.get $k2) (local.get $gi)) (local.get $gi))))
        (if (local.get $lamb)
          (then
            ;; nm / bc1 / (sqrt(nv / bc2) + eps) + wd * p
            (local.set $np
              (f32x4.add
                (f32x4.div (f32x4.div (local.get $nm) (local.get $bc1))
                           (f32x4.add (f32x4.sqrt (f32x4.div (local.get $nv) (local.get $bc2))) (local.get $eps)))
                (f32x4.mul (local.get $wd) (local.get $pi)))))
          (else
            ;; p * decay - (lr / bc1) * nm / (sqrt(nv) / sqrt(bc2) + eps)
            (local.set $np
              (f32x4.sub (f32x4.mul (local.get $pi) (local.get $decay))
                         (f32x4.div (f32x4.mul (local.get $ss) (local.get $nm))
                                    (f32x4.add (f32x4.mul (f32x4.sqrt (local.get $nv)) (local.get $isb)) (local.get $eps)))))))
        ;; Rare: a non-finite gradient (g - g is NaN for NaN and +-Infinity), or an element whose
        ;; update overflows, keeps the element's parameter (LAMB: update 0) and states.
        (local.set $ok (v128.and
          (v128.and (f32x4.eq (f32x4.sub (local.get $g0) (local.get $g0)) (local.get $zero))
                    (f32x4.eq (f32x4.sub (local.get $nm) (local.get $nm)) (local.get $zero)))
          (v128.and (f32x4.eq (f32x4.sub (local.get $nv) (local.get $nv)) (local.get $zero))
                    (f32x4.eq (f32x4.sub (local.get $np) (local.get $np)) (local.get $zero)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (select (result v128) (local.get $zero) (local.get $pi) (local.get $lamb)) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))
            (local.set $nv (v128.bitselect (local.get $nv) (local.get $v) (local.get $ok)))))
        (v128.store (local.get $q) (local.get $np))
        (v128.store (local.get $s0) (local.get $nm))
        (v128.store (local.get $s1) (local.get $nv))
        ;; pmax(acc, x) = acc < x ? x : acc, the reference's `if (x > acc) acc = x` (NaN skipped)
        (local.set $mx0 (f32x4.pmax (local.get $mx0) (f32x4.abs (local.get $nm))))
        (local.set $mx1 (f32x4.pmax (local.get $mx1) (local.get $nv)))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
        (local.set $s1 (i32.add (local.get $s1) (i32.const 16)))
        (local.set $c1 (i32.add (local.get $c1) (i32.const 4)))
        (br $next)))
    (global.set $mx0 (call $hmax (local.get $mx0)))
    (global.set $mx1 (call $hmax (local.get $mx1))))

  ;; SGD momentum (algo 1): K = mu, 1 - dampening, wd, lr, nesterov (0/1), fresh (0/1).
  (func $momentumBlock (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $a0 f32) (param $s0 i32) (param $tab i32)
    (local $mu v128) (local $k v128) (local $wd v128) (local $lr v128) (local $nest v128) (local $fresh v128)
    (local $va0 v128) (local $zero v128) (local $mx0 v128) (local $ok v128)
    (local $m v128) (local $pi v128) (local $g0 v128) (local $gi v128) (local $nm v128) (local $np v128)
    (local.set $mu (v128.load32_splat offset=0 (local.get $tab)))
    (local.set $k (v128.load32_splat offset=4 (local.get $tab)))
    (local.set $wd (v128.load32_splat offset=8 (local.get $tab)))
    (local.set $lr (v128.load32_splat offset=12 (local.get $tab)))
    ;; all-ones lanes where the flag is set
    (local.set $nest (f32x4.ne (v128.load32_splat offset=16 (local.get $tab)) (local.get $zero)))
    (local.set $fresh (f32x4.ne (v128.load32_splat offset=20 (local.get $tab)) (local.get $zero)))
    (local.set $va0 (f32x4.splat (local.get $a0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32x4.mul
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c0)) (i32.const 2)))))
          (local.get $va0)))
        (local.set $pi (v128.load (local.get $p)))
        (local.set $g0 (v128.load (local.get $g)))
        (local.set $gi (f32x4.add (local.get $g0) (f32x4.mul (local.get $wd) (local.get $pi))))
        ;; fresh ? gi : mu * m + (1 - dampening) * gi
        (local.set $nm (v128.bitselect (local.get $gi)
          (f32x4.add (f32x4.mul (local.get $mu) (local.get $m)) (f32x4.mul (local.get $k) (local.get $gi)))
          (local.get $fresh)))
        ;; p - lr * (nesterov ? gi + mu * nm : nm)
        (local.set $np (f32x4.sub (local.get $pi) (f32x4.mul (local.get $lr)
          (v128.bitselect (f32x4.add (local.get $gi) (f32x4.mul (local.get $mu) (local.get $nm))) (local.get $nm) (local.get $nest)))))
        (local.set $ok (v128.and (f32x4.eq (f32x4.sub (local.get $g0) (local.get $g0)) (local.get $zero))
          (v128.and (f32x4.eq (f32x4.sub (local.get $nm) (local.get $nm)) (local.get $zero))
                    (f32x4.eq (f32x4.sub (local.get $np) (local.get $np)) (local.get $zero)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))))
        (v128.store (local.get $q) (local.get $np))
        (v128.store (local.get $s0) (local.get $nm))
        (local.set $mx0 (f32x4.pmax (local.get $mx0) (f32x4.abs (local.get $nm))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
        (br $next)))
    (global.set $mx0 (call $hmax (local.get $mx0))))

  ;; Lion (algo 2): K = b1, 1 - b1, b2, 1 - b2, decay (1 - lr * wd), lr.
  (func $lionBlock (param $end i32) (param $p i32) (param $q i32) (param $g i32) (param $c0 i32) (param $a0 f32) (param $s0 i32) (param $tab i32)
    (local $b1 v128) (local $k1 v128) (local $b2 v128) (local $k2 v128) (local $decay v128) (local $lr v128)
    (local $va0 v128) (local $zero v128) (local $one v128) (local $mx0 v128) (local $ok v128)
    (local $m v128) (local $pi v128) (local $gi v128) (local $c v128) (local $sign v128) (local $nm v128) (local $np v128)
    (local.set $b1 (v128.load32_splat offset=0 (local.get $tab)))
    (local.set $k1 (v128.load32_splat offset=4 (local.get $tab)))
    (local.set $b2 (v128.load32_splat offset=8 (local.get $tab)))
    (local.set $k2 (v128.load32_splat offset=12 (local.get $tab)))
    (local.set $decay (v128.load32_splat offset=16 (local.get $tab)))
    (local.set $lr (v128.load32_splat offset=20 (local.get $tab)))
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $va0 (f32x4.splat (local.get $a0)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $m (f32x4.mul
          (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=0 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=1 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=2 (local.get $c0)) (i32.const 2)))))
            (f32.load offset=256 (i32.add (local.get $tab) (i32.shl (i32.load8_u offset=3 (local.get $c0)) (i32.const 2)))))
          (local.get $va0)))
        (local.set $pi (v128.load (local.get $p)))
        (local.set $gi (v128.load (local.get $g)))
        (local.set $c (f32x4.add (f32x4.mul (local.get $b1) (local.get $m)) (f32x4.mul (local.get $k1) (local.get $gi))))
        ;; sign(c): 1, -1 or 0
        (local.set $sign (v128.bitselect (local.get $one) (local.get $zero) (f32x4.gt (local.get $c) (local.get $zero))))
        (local.set $sign (v128.bitselect (f32x4.neg (local.get $one)) (local.get $sign) (f32x4.lt (local.get $c) (local.get $zero))))
        (local.set $np (f32x4.sub (f32x4.mul (local.get $pi) (local.get $decay)) (f32x4.mul (local.get $lr) (local.get $sign))))
        (local.set $nm (f32x4.add (f32x4.mul (local.get $b2) (local.get $m)) (f32x4.mul (local.get $k2) (local.get $gi))))
        (local.set $ok (v128.and (f32x4.eq (f32x4.sub (local.get $gi) (local.get $gi)) (local.get $zero))
          (v128.and (f32x4.eq (f32x4.sub (local.get $nm) (local.get $nm)) (local.get $zero))
                    (f32x4.eq (f32x4.sub (local.get $np) (local.get $np)) (local.get $zero)))))
        (if (i32.eqz (i32x4.all_true (local.get $ok)))
          (then
            (local.set $np (v128.bitselect (local.get $np) (local.get $pi) (local.get $ok)))
            (local.set $nm (v128.bitselect (local.get $nm) (local.get $m) (local.get $ok)))))
        (v128.store (local.get $q) (local.get $np))
        (v128.store (local.get $s0) (local.get $nm))
        (local.set $mx0 (f32x4.pmax (local.get $mx0) (f32x4.abs (local.get $nm))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $q (i32.add (local.get $q) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $s0 (i32.add (local.get $s0) (i32.const 16)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 4)))
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
    (local.set $two (i32.or (i32.eq (local.get $algo) (global.get $ADAM)) (i32.eq (local.get $algo) (global.get $LAMB))))
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
          (then (call $adamBlock (i32.eq (local.get $algo) (global.get $LAMB))
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (i32.add (i32.add (local.get $st) (local.get $n4)) (local.get $start))
                  (f32.load (i32.add (local.get $abs) (local.get $b)))
                  (f32.load (i32.add (i32.add (local.get $abs) (local.get $nbBytes)) (local.get $b)))
                  (local.get $s0) (local.get $s1) (local.get $tab))))
        (if (i32.eq (local.get $algo) (global.get $MOMENTUM))
          (then (call $momentumBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (f32.load (i32.add (local.get $abs) (local.get $b))) (local.get $s0) (local.get $tab))))
        (if (i32.eq (local.get $algo) (global.get $LION))
          (then (call $lionBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $st) (local.get $start))
                  (f32.load (i32.add (local.get $abs) (local.get $b))) (local.get $s0) (local.get $tab))))
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

  ;; ---- 4-bit states (two codes per byte, low nibble first; see fourBit.ts) ----

  ;; Codes of elements [0, len) (len a multiple of 4) from the packed nibbles at $src to one byte
  ;; each at $dst: 16 at a time, then 4 at a time.
  (func $unpack4 (param $src i32) (param $len i32) (param $dst i32)
    (local $j i32) (local $x v128) (local $w i32)
    (block $done
      (loop $next
        (br_if $done (i32.gt_u (i32.add (local.get $j) (i32.const 16)) (local.get $len)))
        (local.set $x (v128.load64_zero (i32.add (local.get $src) (i32.shr_u (local.get $j) (i32.const 1)))))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.shuffle 0 16 1 17 2 18 3 19 4 20 5 21 6 22 7 23
            (v128.and (local.get $x) (v128.const i8x16 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15 15))
            (i8x16.shr_u (local.get $x) (i32.const 4))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $next)))
    (block $done4
      (loop $next4
        (br_if $done4 (i32.ge_u (local.get $j) (local.get $len)))
        (local.set $w (i32.load16_u (i32.add (local.get $src) (i32.shr_u (local.get $j) (i32.const 1)))))
        (i32.store (i32.add (local.get $dst) (local.get $j))
          (i32.or
            (i32.or (i32.and (local.get $w) (i32.const 15)) (i32.shl (i32.and (local.get $w) (i32.const 0xf0)) (i32.const 4)))
            (i32.or (i32.shl (i32.and (local.get $w) (i32.const 0xf00)) (i32.const 8))
                    (i32.shl (i32.and (local.get $w) (i32.const 0xf000)) (i32.const 12)))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next4))))

  ;; 4-bit codes of src[0..len) * (1 / amax), packed two per byte into $dst (len a multiple of 4).
  ;; `nearest16` (fourBit.ts) returns the number of map entries 1..15 at or below x, plus one if x
  ;; lies above the midpoint to the next entry; for a sorted map that is the number of thresholds
  ;; THR4[c] (c = 0..14: the smallest float32 above the midpoint of entries c and c+1, or entry c+1
  ;; itself where the two are equal) that x reaches. NaN reaches none (code 0, as nearest16).
  (func $quantize4 (param $src i32) (param $len i32) (param $amax f32) (param $dst i32) (param $thr i32)
    (local $inv v128) (local $x v128) (local $acc v128) (local $j i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $t4 v128) (local $t5 v128) (local $t6 v128) (local $t7 v128) (local $t8 v128) (local $t9 v128) (local $t10 v128) (local $t11 v128) (local $t12 v128) (local $t13 v128) (local $t14 v128)
    (local.set $inv (f32x4.splat
      (select (f32.div (f32.const 1) (local.get $amax)) (f32.const 0) (f32.gt (local.get $amax) (f32.const 0)))))
    (local.set $t0 (v128.load32_splat offset=0 (local.get $thr)))
    (local.set $t1 (v128.load32_splat offset=4 (local.get $thr)))
    (local.set $t2 (v128.load32_splat offset=8 (local.get $thr)))
    (local.set $t3 (v128.load32_splat offset=12 (local.get $thr)))
    (local.set $t4 (v128.load32_splat offset=16 (local.get $thr)))
    (local.set $t5 (v128.load32_splat offset=20 (local.get $thr)))
    (local.set $t6 (v128.load32_splat offset=24 (local.get $thr)))
    (local.set $t7 (v128.load32_splat offset=28 (local.get $thr)))
    (local.set $t8 (v128.load32_splat offset=32 (local.get $thr)))
    (local.set $t9 (v128.load32_splat offset=36 (local.get $thr)))
    (local.set $t10 (v128.load32_splat offset=40 (local.get $thr)))
    (local.set $t11 (v128.load32_splat offset=44 (local.get $thr)))
    (local.set $t12 (v128.load32_splat offset=48 (local.get $thr)))
    (local.set $t13 (v128.load32_splat offset=52 (local.get $thr)))
    (local.set $t14 (v128.load32_splat offset=56 (local.get $thr)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $j) (local.get $len)))
        (local.set $x (f32x4.mul (v128.load (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2)))) (local.get $inv)))
        ;; count of thresholds reached (each true lane is -1)
        (local.set $acc (i32x4.neg (f32x4.ge (local.get $x) (local.get $t0))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t1))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t2))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t3))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t4))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t5))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t6))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t7))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t8))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t9))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t10))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t11))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t12))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t13))))
        (local.set $acc (i32x4.sub (local.get $acc) (f32x4.ge (local.get $x) (local.get $t14))))
        ;; lanes c0 + 16 c1 and c2 + 16 c3: the two bytes
        (local.set $acc (i32x4.mul (local.get $acc) (v128.const i32x4 1 16 1 16)))
        (local.set $acc (i32x4.add (local.get $acc)
          (i8x16.shuffle 4 5 6 7 4 5 6 7 12 13 14 15 12 13 14 15 (local.get $acc) (local.get $acc))))
        (i32.store8 (i32.add (local.get $dst) (i32.shr_u (local.get $j) (i32.const 1))) (i32x4.extract_lane 0 (local.get $acc)))
        (i32.store8 offset=1 (i32.add (local.get $dst) (i32.shr_u (local.get $j) (i32.const 1))) (i32x4.extract_lane 2 (local.get $acc)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $next))))

  ;; The step with 4-bit states: as `step`, but each state's codes take $cs bytes (two codes per
  ;; byte; the maxima follow S * $cs bytes after $st / $out). Per block the codes are unpacked to
  ;; one byte each in scratch, the rules run on the 4-bit area (its maps where the 8-bit ones are),
  ;; and the new states are quantized and packed. Bytes of the code arrays past element n4 are
  ;; written as zeros (as the reference's fresh output).
  (func (export "step4") (param $algo i32) (param $n4 i32) (param $bs i32) (param $p i32) (param $q i32) (param $g i32)
                         (param $st i32) (param $out i32) (param $tab i32) (param $cs i32)
    (local $start i32) (local $end i32) (local $len i32) (local $b i32) (local $s0 i32) (local $s1 i32)
    (local $u0 i32) (local $u1 i32) (local $tab4 i32)
    (local $two i32) (local $abs i32) (local $absOut i32) (local $nbBytes i32) (local $k i32)
    (local.set $tab4 (i32.add (local.get $tab) (global.get $TAB4)))
    (local.set $s0 (i32.add (local.get $tab) (global.get $SCRATCH)))
    (local.set $s1 (i32.add (local.get $s0) (i32.shl (local.get $bs) (i32.const 2))))
    (local.set $u0 (i32.add (local.get $s1) (i32.shl (local.get $bs) (i32.const 2))))
    (local.set $u1 (i32.add (local.get $u0) (local.get $bs)))
    (local.set $two (i32.or (i32.eq (local.get $algo) (global.get $ADAM)) (i32.eq (local.get $algo) (global.get $LAMB))))
    (local.set $abs (i32.add (local.get $st) (i32.mul (local.get $cs) (i32.add (local.get $two) (i32.const 1)))))
    (local.set $absOut (i32.add (local.get $out) (i32.mul (local.get $cs) (i32.add (local.get $two) (i32.const 1)))))
    (local.set $nbBytes (i32.shl (i32.div_u (i32.sub (i32.add (local.get $n4) (local.get $bs)) (i32.const 1)) (local.get $bs)) (i32.const 2)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $start) (local.get $n4)))
        (local.set $end (i32.add (local.get $start) (local.get $bs)))
        (if (i32.gt_u (local.get $end) (local.get $n4)) (then (local.set $end (local.get $n4))))
        (local.set $len (i32.sub (local.get $end) (local.get $start)))
        (local.set $b (i32.shl (i32.div_u (local.get $start) (local.get $bs)) (i32.const 2)))
        (call $unpack4 (i32.add (local.get $st) (i32.shr_u (local.get $start) (i32.const 1))) (local.get $len) (local.get $u0))
        (if (local.get $two)
          (then
            (call $unpack4 (i32.add (i32.add (local.get $st) (local.get $cs)) (i32.shr_u (local.get $start) (i32.const 1)))
              (local.get $len) (local.get $u1))
            (call $adamBlock (i32.eq (local.get $algo) (global.get $LAMB))
              (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
              (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
              (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
              (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
              (local.get $u0) (local.get $u1)
              (f32.load (i32.add (local.get $abs) (local.get $b)))
              (f32.load (i32.add (i32.add (local.get $abs) (local.get $nbBytes)) (local.get $b)))
              (local.get $s0) (local.get $s1) (local.get $tab4))))
        (if (i32.eq (local.get $algo) (global.get $MOMENTUM))
          (then (call $momentumBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (local.get $u0)
                  (f32.load (i32.add (local.get $abs) (local.get $b))) (local.get $s0) (local.get $tab4))))
        (if (i32.eq (local.get $algo) (global.get $LION))
          (then (call $lionBlock
                  (i32.add (local.get $p) (i32.shl (local.get $end) (i32.const 2)))
                  (i32.add (local.get $p) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $q) (i32.shl (local.get $start) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (local.get $start) (i32.const 2)))
                  (local.get $u0)
                  (f32.load (i32.add (local.get $abs) (local.get $b))) (local.get $s0) (local.get $tab4))))
        (f32.store (i32.add (local.get $absOut) (local.get $b)) (global.get $mx0))
        (call $quantize4 (local.get $s0) (local.get $len) (global.get $mx0)
          (i32.add (local.get $out) (i32.shr_u (local.get $start) (i32.const 1)))
          (i32.add (local.get $tab4) (global.get $THR4_0)))
        (if (local.get $two)
          (then
            (f32.store (i32.add (i32.add (local.get $absOut) (local.get $nbBytes)) (local.get $b)) (global.get $mx1))
            (call $quantize4 (local.get $s1) (local.get $len) (global.get $mx1)
              (i32.add (i32.add (local.get $out) (local.get $cs)) (i32.shr_u (local.get $start) (i32.const 1)))
              (i32.add (local.get $tab4) (global.get $THR4_1)))))
        (local.set $start (local.get $end))
        (br $next)))
    ;; zero the code bytes past element n4 of each state (at most 3 bytes: cs is a whole number of words)
    (local.set $k (i32.shr_u (local.get $n4) (i32.const 1)))
    (block $zdone
      (loop $znext
        (br_if $zdone (i32.ge_u (local.get $k) (local.get $cs)))
        (i32.store8 (i32.add (local.get $out) (local.get $k)) (i32.const 0))
        (if (local.get $two) (then (i32.store8 (i32.add (i32.add (local.get $out) (local.get $cs)) (local.get $k)) (i32.const 0))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $znext))))
)
