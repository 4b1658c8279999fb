(module
  ;; The memory is imported: the tfjs wasm heap itself (no copies), or a private one.
  (import "env" "memory" (memory 1))
  ;; PyTorch-style Adam over n float32: moments m, v in place, new parameters to o (may be p).
  ;; Subnormal floats are flushed to zero on the way: a gradient below 2^-50 counts as 0 and a
  ;; moment below 2^-100 becomes 0. Without that, the first moments of weights that get no
  ;; gradient for a few hundred steps (background pixels) decay by 0.9 per step into the
  ;; subnormal range, where every operation on them takes a ~100-cycle microcode assist on
  ;; Intel CPUs (WebAssembly has no flush-to-zero mode): 100k+ such moments after ~700 steps
  ;; made the step 2-3x slower from mid-epoch 1 on. The flushed values change an update by
  ;; less than 1e-11, far below a float32 weight's resolution.
  (func (export "adam")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $o i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32)
    (param $ss f32) (param $ic2 f32) (param $eps f32)
    (local $end4 i32) (local $end i32) (local $gv v128) (local $mv v128) (local $vv v128)
    (local $vb1 v128) (local $vb2 v128) (local $vc1 v128) (local $vc2 v128)
    (local $vss v128) (local $vic2 v128) (local $veps v128) (local $vgmin v128) (local $vmin v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $vgmin (f32x4.splat (f32.const 0x1p-50)))
    (local.set $vmin (f32x4.splat (f32.const 0x1p-100)))
    (local.set $vb1 (f32x4.splat (local.get $b1)))
    (local.set $vb2 (f32x4.splat (local.get $b2)))
    (local.set $vc1 (f32x4.splat (local.get $c1)))
    (local.set $vc2 (f32x4.splat (local.get $c2)))
    (local.set $vss (f32x4.splat (local.get $ss)))
    (local.set $vic2 (f32x4.splat (local.get $ic2)))
    (local.set $veps (f32x4.splat (local.get $eps)))
    (local.set $end4 (i32.add (local.get $p)
      (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $end (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 2))))
    (block $done
      (loop $loop
        (br_if $done (i32.ge_u (local.get $p) (local.get $end4)))
        (local.set $gv (v128.load (local.get $g)))
        (local.set $gv (v128.and (local.get $gv)
          (f32x4.ge (f32x4.abs (local.get $gv)) (local.get $vgmin))))
        (local.set $mv (f32x4.add
          (f32x4.mul (v128.load (local.get $m)) (local.get $vb1))
          (f32x4.mul (local.get $gv) (local.get $vc1))))
        (local.set $mv (v128.and (local.get $mv)
          (f32x4.ge (f32x4.abs (local.get $mv)) (local.get $vmin))))
        (local.set $vv (f32x4.add
          (f32x4.mul (v128.load (local.get $v)) (local.get $vb2))
          (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $vc2))))
        (local.set $vv (v128.and (local.get $vv)
          (f32x4.ge (local.get $vv) (local.get $vmin))))
        (v128.store (local.get $m) (local.get $mv))
        (v128.store (local.get $v) (local.get $vv))
        (v128.store (local.get $o)
          (f32x4.sub (v128.load (local.get $p))
            (f32x4.mul (local.get $vss)
              (f32x4.div (local.get $mv)
                (f32x4.add
                  (f32x4.mul (f32x4.sqrt (local.get $vv)) (local.get $vic2))
                  (local.get $veps))))))
        (local.set $p (i32.add (local.get $p) (i32.const 16)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $loop)))
    (block $tdone
      (loop $tloop
        (br_if $tdone (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $gs (f32.load (local.get $g)))
        (local.set $gs (select (local.get $gs) (f32.const 0)
          (f32.ge (f32.abs (local.get $gs)) (f32.const 0x1p-50))))
        (local.set $ms (f32.add
          (f32.mul (f32.load (local.get $m)) (local.get $b1))
          (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $ms (select (local.get $ms) (f32.const 0)
          (f32.ge (f32.abs (local.get $ms)) (f32.const 0x1p-100))))
        (local.set $vs (f32.add
          (f32.mul (f32.load (local.get $v)) (local.get $b2))
          (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (local.set $vs (select (local.get $vs) (f32.const 0)
          (f32.ge (local.get $vs) (f32.const 0x1p-100))))
        (f32.store (local.get $m) (local.get $ms))
        (f32.store (local.get $v) (local.get $vs))
        (f32.store (local.get $o)
          (f32.sub (f32.load (local.get $p))
            (f32.mul (local.get $ss)
              (f32.div (local.get $ms)
                (f32.add
                  (f32.mul (f32.sqrt (local.get $vs)) (local.get $ic2))
                  (local.get $eps))))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $tloop))))
  ;; dst[c][r] = src[r][c] for a row-major [rows, cols] float32 matrix, in 16x16 blocks.
  (func (export "transpose")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r0 i32) (local $c0 i32) (local $r i32) (local $c i32)
    (local $r1 i32) (local $c1 i32)
    (local.set $r0 (i32.const 0))
    (block $d0 (loop $l0
      (br_if $d0 (i32.ge_u (local.get $r0) (local.get $rows)))
      (local.set $r1 (select (i32.add (local.get $r0) (i32.const 16)) (local.get $rows)
        (i32.lt_u (i32.add (local.get $r0) (i32.const 16)) (local.get $rows))))
      (local.set $c0 (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $c0) (local.get $cols)))
        (local.set $c1 (select (i32.add (local.get $c0) (i32.const 16)) (local.get $cols)
          (i32.lt_u (i32.add (local.get $c0) (i32.const 16)) (local.get $cols))))
        (local.set $r (local.get $r0))
        (block $d2 (loop $l2
          (br_if $d2 (i32.ge_u (local.get $r) (local.get $r1)))
          (local.set $c (local.get $c0))
          (block $d3 (loop $l3
            (br_if $d3 (i32.ge_u (local.get $c) (local.get $c1)))
            (f32.store
              (i32.add (local.get $dst)
                (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
              (f32.load
                (i32.add (local.get $src)
                  (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $l3)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $l2)))
        (local.set $c0 (i32.add (local.get $c0) (i32.const 16)))
        (br $l1)))
      (local.set $r0 (i32.add (local.get $r0) (i32.const 16)))
      (br $l0))))
  ;; The same for rows and cols multiples of 4: 4x4 tiles transposed with shuffles.
  (func (export "transpose4")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $s i32) (local $d i32)
    (local $rb i32) (local $db i32)
    (local $a v128) (local $b v128) (local $e v128) (local $f v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rb (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $db (i32.shl (local.get $rows) (i32.const 2)))
    (local.set $r (i32.const 0))
    (block $d0 (loop $l0
      (br_if $d0 (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $s (i32.add (local.get $src)
          (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
        (local.set $a (v128.load (local.get $s)))
        (local.set $b (v128.load (i32.add (local.get $s) (local.get $rb))))
        (local.set $e (v128.load (i32.add (local.get $s) (i32.shl (local.get $rb) (i32.const 1)))))
        (local.set $f (v128.load (i32.add (local.get $s) (i32.mul (local.get $rb) (i32.const 3)))))
        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e) (local.get $f)))
        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e) (local.get $f)))
        (local.set $d (i32.add (local.get $dst)
          (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
        (v128.store (local.get $d)
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
        (v128.store (i32.add (local.get $d) (local.get $db))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
        (v128.store (i32.add (local.get $d) (i32.shl (local.get $db) (i32.const 1)))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
        (v128.store (i32.add (local.get $d) (i32.mul (local.get $db) (i32.const 3)))
          (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $l1)))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $l0))))
  ;; The hidden-layer activation of the native step, with its dropout mask hashed on the fly:
  ;; h[r][c] = max(z[r mod srcRows][c] + b[c], 0) * mask(r, c) for a row-major [rows, cols]
  ;; output, cols a multiple of 4. mask(r, c) is dropoutMaskValues' (models/dropout.ts): one
  ;; murmur3-finalised hash of (key + golden-ratio counter of (r >> 1, c)) per row pair,
  ;; low 16 bits for even rows, high 16 for odd ones, kept (value `keep`) when >= threshold.
  ;; With dropout off pass threshold 0 and keep 1 (every unit kept).
  (func (export "dropout_relu")
    (param $z i32) (param $b i32) (param $h i32) (param $rows i32) (param $cols i32)
    (param $srcRows i32) (param $key i32) (param $threshold i32) (param $keep f32)
    (local $p i32) (local $c i32) (local $r i32) (local $src i32) (local $dst i32)
    (local $hash v128) (local $bits v128) (local $vkeep v128) (local $vthr v128)
    (local $vkey v128) (local $zero v128) (local $counter v128) (local $val v128)
    (local.set $vkeep (f32x4.splat (local.get $keep)))
    (local.set $vthr (i32x4.splat (local.get $threshold)))
    (local.set $vkey (i32x4.splat (local.get $key)))
    (local.set $zero (f32x4.splat (f32.const 0)))
    (local.set $p (i32.const 0))
    (block $dp (loop $lp
      (br_if $dp (i32.ge_u (i32.shl (local.get $p) (i32.const 1)) (local.get $rows)))
      (local.set $c (i32.const 0))
      (block $dc (loop $lc
        (br_if $dc (i32.ge_u (local.get $c) (local.get $cols)))
        ;; counters p * cols + c + 1 + lane
        (local.set $counter (i32x4.add
          (i32x4.splat (i32.add (i32.mul (local.get $p) (local.get $cols))
            (i32.add (local.get $c) (i32.const 1))))
          (v128.const i32x4 0 1 2 3)))
        (local.set $hash (i32x4.add (local.get $vkey)
          (i32x4.mul (local.get $counter) (i32x4.splat (i32.const 0x9e3779b9)))))
        (local.set $hash (i32x4.mul
          (v128.xor (local.get $hash) (i32x4.shr_u (local.get $hash) (i32.const 16)))
          (i32x4.splat (i32.const 0x85ebca6b))))
        (local.set $hash (i32x4.mul
          (v128.xor (local.get $hash) (i32x4.shr_u (local.get $hash) (i32.const 13)))
          (i32x4.splat (i32.const 0xc2b2ae35))))
        (local.set $hash
          (v128.xor (local.get $hash) (i32x4.shr_u (local.get $hash) (i32.const 16))))
        ;; even row 2p: low 16 bits
        (local.set $r (i32.shl (local.get $p) (i32.const 1)))
        (local.set $bits (v128.and (local.get $hash) (i32x4.splat (i32.const 0xffff))))
        (local.set $src (i32.add (local.get $z) (i32.shl
          (i32.add (i32.mul (i32.rem_u (local.get $r) (local.get $srcRows)) (local.get $cols))
            (local.get $c)) (i32.const 2))))
        (local.set $dst (i32.add (local.get $h) (i32.shl
          (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
        (local.set $val (f32x4.max (local.get $zero)
          (f32x4.add (v128.load (local.get $src))
            (v128.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 2)))))))
        (v128.store (local.get $dst)
          (v128.and (f32x4.mul (local.get $val) (local.get $vkeep))
            (i32x4.ge_u (local.get $bits) (local.get $vthr))))
        ;; odd row 2p + 1 (when there is one): high 16 bits
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (if (i32.lt_u (local.get $r) (local.get $rows))
          (then
            (local.set $bits (i32x4.shr_u (local.get $hash) (i32.const 16)))
            (local.set $src (i32.add (local.get $z) (i32.shl
              (i32.add (i32.mul (i32.rem_u (local.get $r) (local.get $srcRows)) (local.get $cols))
                (local.get $c)) (i32.const 2))))
            (local.set $dst (i32.add (local.get $dst) (i32.shl (local.get $cols) (i32.const 2))))
            (local.set $val (f32x4.max (local.get $zero)
              (f32x4.add (v128.load (local.get $src))
                (v128.load (i32.add (local.get $b) (i32.shl (local.get $c) (i32.const 2)))))))
            (v128.store (local.get $dst)
              (v128.and (f32x4.mul (local.get $val) (local.get $vkeep))
                (i32x4.ge_u (local.get $bits) (local.get $vthr))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $lc)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $lp))))
  ;; Backward through dropout_relu: d[i] = h[i] > 0 ? d[i] * keep : 0 over n floats (n a
  ;; multiple of 4): a unit passed its gradient iff it was active and kept, and then h > 0.
  (func (export "dropout_relu_grad")
    (param $d i32) (param $h i32) (param $n i32) (param $keep f32)
    (local $end i32) (local $vkeep v128)
    (local.set $vkeep (f32x4.splat (local.get $keep)))
    (local.set $end (i32.add (local.get $d) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $loop
      (br_if $done (i32.ge_u (local.get $d) (local.get $end)))
      (v128.store (local.get $d)
        (v128.and (f32x4.mul (v128.load (local.get $d)) (local.get $vkeep))
          (f32x4.gt (v128.load (local.get $h)) (f32x4.splat (f32.const 0)))))
      (local.set $d (i32.add (local.get $d) (i32.const 16)))
      (local.set $h (i32.add (local.get $h) (i32.const 16)))
      (br $loop))))
)
