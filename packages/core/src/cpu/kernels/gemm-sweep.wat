;; The GEMM micro-kernel sweep of the CPU backend in WebAssembly SIMD (see gemm.ts, `gemmBlock`).
;;
;; It does exactly what the JS sweep does, two float64 lanes at a time: for every pair (B micro-panel jp,
;; A micro-panel ip) of one packed block, a 4×4 tile of float64 accumulators, each summed over p in order
;; (a separate multiply and add per step, no fused multiply-add), so that every result is bit for bit the
;; JS kernel's. The tile goes into T, the block of C as float32 (row stride 4·nPanels values): with
;; `accumulate` 0 as the sum rounded to float32, with 1 as float32(T + sum), T holding C's values — what the
;; JS kernel's `c[o] = s` and `c[o] += s` store into a Float32Array (IEEE addition commutes, and f64→f32
;; demotion rounds to nearest even like a Float32Array store).
;;
;; Layout (as packed by gemmBlock, float64): A block pa[(ip·kc + p)·4 + ii], B block pb[(jp·kc + p)·4 + jj].
;; `packB` does gemmBlock's packing of B's full panels from a float32 copy of the block's rows (row stride
;; nc): the same float64 values (f32→f64 is exact), the same places.
;;
;; Memory: 56 pages (3.5 MiB), enough for the largest block (MC·KC + KC·NC float64, MC·NC + KC·NC float32,
;; 3.4 MiB); it never grows, so the caller's typed-array views of it stay valid.
;;
;; The four rows of a tile are stored inline, not through a helper function: V8 (Node 20) does not inline wasm
;; calls, and the call cost 3–20 % of the thin GEMMs of a widths-÷-8 network.
;;
;; Rebuild the bytes after an edit: node packages/core/scripts/build-wasm.mjs (a test checks they match).
(module
  (memory (export "memory") 56 56)
;; pb[(jp·kc + p)·4 + jj] = src[p·nc + 4·jp + jj] for every p < kc, jp < panels, jj < 4.
  (func (export "packB") (param $src i32) (param $pb i32) (param $kc i32) (param $nc i32) (param $panels i32)
    (local $p i32) (local $jp i32) (local $s i32) (local $d i32) (local $v v128) (local $panelBytes i32)
    (local.set $panelBytes (i32.shl (local.get $kc) (i32.const 5)))
    (local.set $p (i32.const 0))
    (block $pDone
      (loop $pLoop
        (br_if $pDone (i32.ge_u (local.get $p) (local.get $kc)))
        (local.set $s (i32.add (local.get $src) (i32.shl (i32.mul (local.get $p) (local.get $nc)) (i32.const 2))))
        (local.set $d (i32.add (local.get $pb) (i32.shl (local.get $p) (i32.const 5))))
        (local.set $jp (local.get $panels))
        (block $jDone
          (loop $jLoop
            (br_if $jDone (i32.eqz (local.get $jp)))
            (local.set $v (v128.load (local.get $s)))
            (v128.store (local.get $d) (f64x2.promote_low_f32x4 (local.get $v)))
            (v128.store offset=16 (local.get $d)
              (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))))
            (local.set $s (i32.add (local.get $s) (i32.const 16)))
            (local.set $d (i32.add (local.get $d) (local.get $panelBytes)))
            (local.set $jp (i32.sub (local.get $jp) (i32.const 1)))
            (br $jLoop)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $pLoop))))
  (func (export "sweep")
    (param $pa i32) (param $pb i32) (param $t i32) (param $mPanels i32) (param $nPanels i32) (param $kc i32)
    (param $accumulate i32)
    (local $ip i32) (local $jp i32) (local $a i32) (local $b i32) (local $p i32) (local $o i32)
    (local $rowBytes i32) (local $panelBytes i32)
    (local $b01 v128) (local $b23 v128) (local $s v128)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local.set $rowBytes (i32.shl (local.get $nPanels) (i32.const 4)))   ;; 4·nPanels float32
    (local.set $panelBytes (i32.shl (local.get $kc) (i32.const 5)))      ;; kc·4 float64
    (local.set $jp (i32.const 0))
    (block $jDone
      (loop $jLoop
        (br_if $jDone (i32.ge_u (local.get $jp) (local.get $nPanels)))
        (local.set $ip (i32.const 0))
        (block $iDone
          (loop $iLoop
            (br_if $iDone (i32.ge_u (local.get $ip) (local.get $mPanels)))
            (local.set $c0l (v128.const i64x2 0 0)) (local.set $c0h (v128.const i64x2 0 0))
            (local.set $c1l (v128.const i64x2 0 0)) (local.set $c1h (v128.const i64x2 0 0))
            (local.set $c2l (v128.const i64x2 0 0)) (local.set $c2h (v128.const i64x2 0 0))
            (local.set $c3l (v128.const i64x2 0 0)) (local.set $c3h (v128.const i64x2 0 0))
            (local.set $a (i32.add (local.get $pa) (i32.mul (local.get $ip) (local.get $panelBytes))))
            (local.set $b (i32.add (local.get $pb) (i32.mul (local.get $jp) (local.get $panelBytes))))
            (local.set $p (local.get $kc))
            (block $pDone
              (loop $pLoop
                (br_if $pDone (i32.eqz (local.get $p)))
                (local.set $b01 (v128.load (local.get $b)))
                (local.set $b23 (v128.load offset=16 (local.get $b)))
                (local.set $s (v128.load64_splat (local.get $a)))
                (local.set $c0l (f64x2.add (local.get $c0l) (f64x2.mul (local.get $s) (local.get $b01))))
                (local.set $c0h (f64x2.add (local.get $c0h) (f64x2.mul (local.get $s) (local.get $b23))))
                (local.set $s (v128.load64_splat offset=8 (local.get $a)))
                (local.set $c1l (f64x2.add (local.get $c1l) (f64x2.mul (local.get $s) (local.get $b01))))
                (local.set $c1h (f64x2.add (local.get $c1h) (f64x2.mul (local.get $s) (local.get $b23))))
                (local.set $s (v128.load64_splat offset=16 (local.get $a)))
                (local.set $c2l (f64x2.add (local.get $c2l) (f64x2.mul (local.get $s) (local.get $b01))))
                (local.set $c2h (f64x2.add (local.get $c2h) (f64x2.mul (local.get $s) (local.get $b23))))
                (local.set $s (v128.load64_splat offset=24 (local.get $a)))
                (local.set $c3l (f64x2.add (local.get $c3l) (f64x2.mul (local.get $s) (local.get $b01))))
                (local.set $c3h (f64x2.add (local.get $c3h) (f64x2.mul (local.get $s) (local.get $b23))))
                (local.set $a (i32.add (local.get $a) (i32.const 32)))
                (local.set $b (i32.add (local.get $b) (i32.const 32)))
                (local.set $p (i32.sub (local.get $p) (i32.const 1)))
                (br $pLoop)))
            ;; T[(4·ip + ii)·4·nPanels + 4·jp + jj]
            (local.set $o (i32.add (local.get $t)
              (i32.add (i32.mul (i32.shl (local.get $ip) (i32.const 2)) (local.get $rowBytes)) (i32.shl (local.get $jp) (i32.const 4)))))
            ;; row 0: T[o .. o+3] = float32(acc) or float32(T[o .. o+3] + acc), acc = ($c0l, $c0h)
            (if (local.get $accumulate)
              (then
                (local.set $c0l (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $o))) (local.get $c0l)))
                (local.set $c0h (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $o))) (local.get $c0h)))))
            (v128.store (local.get $o)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $c0l)) (f32x4.demote_f64x2_zero (local.get $c0h))))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            ;; row 1: T[o .. o+3] = float32(acc) or float32(T[o .. o+3] + acc), acc = ($c1l, $c1h)
            (if (local.get $accumulate)
              (then
                (local.set $c1l (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $o))) (local.get $c1l)))
                (local.set $c1h (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $o))) (local.get $c1h)))))
            (v128.store (local.get $o)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $c1l)) (f32x4.demote_f64x2_zero (local.get $c1h))))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            ;; row 2: T[o .. o+3] = float32(acc) or float32(T[o .. o+3] + acc), acc = ($c2l, $c2h)
            (if (local.get $accumulate)
              (then
                (local.set $c2l (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $o))) (local.get $c2l)))
                (local.set $c2h (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $o))) (local.get $c2h)))))
            (v128.store (local.get $o)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $c2l)) (f32x4.demote_f64x2_zero (local.get $c2h))))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            ;; row 3: T[o .. o+3] = float32(acc) or float32(T[o .. o+3] + acc), acc = ($c3l, $c3h)
            (if (local.get $accumulate)
              (then
                (local.set $c3l (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero (local.get $o))) (local.get $c3l)))
                (local.set $c3h (f64x2.add (f64x2.promote_low_f32x4 (v128.load64_zero offset=8 (local.get $o))) (local.get $c3h)))))
            (v128.store (local.get $o)
              (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
                (f32x4.demote_f64x2_zero (local.get $c3l)) (f32x4.demote_f64x2_zero (local.get $c3h))))
            (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
            (br $iLoop)))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $jLoop)))))
