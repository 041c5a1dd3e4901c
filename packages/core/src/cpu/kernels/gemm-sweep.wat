;; The GEMM micro-kernel sweep of the CPU backend in WebAssembly SIMD (see gemm.ts, `gemmBlock`).
;;
;; It does exactly what the JS sweep does, two float64 lanes at a time: for every pair (B micro-panel jp,
;; A micro-panel ip) of one packed block, a 4×4 tile of float64 accumulators, each summed over p in order
;; (a separate multiply and add per step, no fused multiply-add), so that every result is bit for bit the
;; JS kernel's. The tile is written as float64 into W (row stride 4·nPanels values); gemmBlock adds W
;; into C with the JS kernel's own float32 rounding.
;;
;; Layout (as packed by gemmBlock, float64): A block pa[(ip·kc + p)·4 + ii], B block pb[(jp·kc + p)·4 + jj].
;; Memory: 48 pages (3 MiB), enough for the largest block (MC·KC + KC·NC + MC·NC float64, 2.6 MiB); it
;; never grows, so the caller's Float64Array views of it stay valid.
;;
;; Rebuild the bytes after an edit: node packages/core/scripts/build-wasm.mjs (a test checks they match).
(module
  (memory (export "memory") 48 48)
  (func (export "sweep")
    (param $pa i32) (param $pb i32) (param $w i32) (param $mPanels i32) (param $nPanels i32) (param $kc i32)
    (local $ip i32) (local $jp i32) (local $a i32) (local $b i32) (local $p i32) (local $o i32)
    (local $rowBytes i32) (local $panelBytes i32)
    (local $b01 v128) (local $b23 v128) (local $s v128)
    (local $c0l v128) (local $c0h v128) (local $c1l v128) (local $c1h v128)
    (local $c2l v128) (local $c2h v128) (local $c3l v128) (local $c3h v128)
    (local.set $rowBytes (i32.shl (local.get $nPanels) (i32.const 5)))   ;; 4·nPanels float64
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
            ;; W[(4·ip + ii)·4·nPanels + 4·jp + jj]
            (local.set $o (i32.add (local.get $w)
              (i32.add (i32.mul (i32.shl (local.get $ip) (i32.const 2)) (local.get $rowBytes)) (i32.shl (local.get $jp) (i32.const 5)))))
            (v128.store (local.get $o) (local.get $c0l)) (v128.store offset=16 (local.get $o) (local.get $c0h))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            (v128.store (local.get $o) (local.get $c1l)) (v128.store offset=16 (local.get $o) (local.get $c1h))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            (v128.store (local.get $o) (local.get $c2l)) (v128.store offset=16 (local.get $o) (local.get $c2h))
            (local.set $o (i32.add (local.get $o) (local.get $rowBytes)))
            (v128.store (local.get $o) (local.get $c3l)) (v128.store offset=16 (local.get $o) (local.get $c3h))
            (local.set $ip (i32.add (local.get $ip) (i32.const 1)))
            (br $iLoop)))
        (local.set $jp (i32.add (local.get $jp) (i32.const 1)))
        (br $jLoop)))))
