import { assert, assertEquals } from "./assert.ts";
import {
  assembleWat,
  KERNELS_MODULE,
  KERNELS_WAT,
  renderKernelsModule,
} from "../../models/kernels/build.ts";
import {
  adamScalars,
  instantiateKernels,
  transposeKernel,
} from "../../models/kernels/mod.ts";
import { adamUpdate } from "../../models/train_step.ts";

Deno.test("the committed kernels_wasm.ts is what kernels.wat assembles to", async () => {
  const binary = await assembleWat(await Deno.readTextFile(KERNELS_WAT));
  const committed = await Deno.readTextFile(KERNELS_MODULE);
  assertEquals(
    committed,
    renderKernelsModule(binary),
    "kernels_wasm.ts is stale: run `deno task build:kernels` and commit it",
  );
});

function setup(n: number) {
  const memory = new WebAssembly.Memory({ initial: 4 });
  const kernels = instantiateKernels(memory);
  const view = (k: number) => new Float32Array(memory.buffer, k * 4 * n, n);
  return {
    kernels,
    p: view(0),
    g: view(1),
    m: view(2),
    v: view(3),
    o: view(4),
  };
}

Deno.test("the adam kernel matches adamUpdate on ordinary values (SIMD body and tail)", () => {
  const n = 4099; // not a multiple of 4: the scalar tail runs too
  const { kernels, p, g, m, v, o } = setup(n);
  let s = 1;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  for (let i = 0; i < n; i++) {
    p[i] = rnd();
    g[i] = rnd() * 1e-2;
    m[i] = rnd() * 1e-3;
    v[i] = Math.abs(rnd()) * 1e-5;
  }
  const ref = { param: p.slice(), grad: g.slice(), m: m.slice(), v: v.slice() };
  const out = new Float32Array(n);
  const hyper = {
    t: 7,
    learningRate: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
  };
  adamUpdate({ ...ref, out }, hyper);
  kernels.adam(
    0,
    4 * n,
    8 * n,
    12 * n,
    16 * n,
    n,
    ...adamScalars(hyper) as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ],
  );
  let worst = 0;
  for (let i = 0; i < n; i++) {
    worst = Math.max(worst, Math.abs(o[i] - out[i]), Math.abs(m[i] - ref.m[i]));
  }
  assert(worst < 1e-6, `adam kernel differs from adamUpdate by ${worst}`);
});

Deno.test("the adam kernel flushes subnormal moments and negligible gradients to zero", () => {
  const n = 9;
  const { kernels, p, g, m, v, o } = setup(n);
  // A moment that the 0.9 decay would take below 2^-100, one that stays normal, a gradient
  // below 2^-50 (ignored) and one above it (used).
  m.set([8e-31, 1e-20, 0, 0, 0, 0, 0, 0, 8e-31]);
  v.set([1e-30, 1e-20, 0, 0, 0, 0, 0, 0, 1e-30]);
  g.set([0, 0, 1e-16, 1e-12, 0, 0, 0, 0, 0]);
  p.fill(0.5);
  const hyper = {
    t: 3,
    learningRate: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
  };
  const scalars = adamScalars(hyper) as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  kernels.adam(0, 4 * n, 8 * n, 12 * n, 16 * n, n, ...scalars);
  for (const i of [0, 8]) {
    assertEquals(m[i], 0, `m[${i}] (SIMD body / tail) was not flushed`);
  }
  assert(m[1] > 0 && m[3] > 0, "normal moments must survive");
  assertEquals(m[2], 0, "a gradient below 2^-50 must count as zero");
  assert(v[1] > 0, "a normal second moment must survive");
  assert(o.every((x) => Number.isFinite(x)));
});

Deno.test("the transpose kernels transpose (4x4 tiles and the general one)", () => {
  for (const [rows, cols] of [[8, 12], [5, 7]]) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const kernels = instantiateKernels(memory);
    const src = new Float32Array(memory.buffer, 0, rows * cols);
    const dst = new Float32Array(memory.buffer, 4 * rows * cols, rows * cols);
    src.forEach((_, i) => (src[i] = i));
    transposeKernel(kernels, rows, cols)(0, 4 * rows * cols, rows, cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        assertEquals(dst[c * rows + r], src[r * cols + c]);
      }
    }
  }
});
