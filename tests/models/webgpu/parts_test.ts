/**
 * The fused step's host-side parts: the flat parameter layout, the training set's palette
 * encoding (exact, or refused for more than 256 values), exact WGSL float constants, the
 * per-step uniform block, and the WebGPU call counter.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { ModelError } from "../../../models/errors.ts";
import { initialValues } from "../../../models/mlp.ts";
import { encodeImages } from "../../../models/webgpu/dataset.ts";
import {
  encodeStepParams,
  type KernelShape,
} from "../../../models/webgpu/kernel_shape.ts";
import {
  packFlat,
  paramLayout,
  unpackFlat,
} from "../../../models/webgpu/layout.ts";
import { f32 } from "../../../models/webgpu/wgsl.ts";
import { installGpuCallCounter } from "../../../models/webgpu/counters.ts";
import { createFusedStep } from "../../../models/webgpu/step.ts";
import { gpu, MODEL, SKIP_REASON } from "./_fixture.ts";

Deno.test("the flat layout is w0, b0, w1, b1, ... back to back, and packs and unpacks losslessly", () => {
  const layout = paramLayout({
    inputSize: 3,
    hidden: [4],
    classes: 2,
    dropout: 0,
  });
  assertEquals(layout.layers, [
    { fanIn: 3, fanOut: 4, weight: 0, bias: 12 },
    { fanIn: 4, fanOut: 2, weight: 16, bias: 24 },
  ]);
  assertEquals(layout.size, 26);
  const values = initialValues(MODEL, { seed: 3 });
  const big = paramLayout(MODEL);
  assertEquals(unpackFlat(big, packFlat(big, values)), values);
  assertThrows(() => packFlat(big, values.slice(1)), ModelError);
});

Deno.test("images with at most 256 distinct values become exact palette codes; others stay float32", () => {
  const pixels = Float32Array.from(
    { length: 1001 },
    (_, i) => ((i * 37) % 256) / 255,
  );
  const encoded = encodeImages(pixels);
  assertEquals(encoded.kind, "palette");
  assertEquals(encoded.data.byteLength % 4, 0);
  const decoded = Float32Array.from(
    { length: pixels.length },
    (_, i) => encoded.palette[(encoded.data as Uint8Array)[i]],
  );
  assertEquals(decoded, pixels);
  const many = Float32Array.from({ length: 300 }, (_, i) => i / 7);
  const plain = encodeImages(many);
  assertEquals(plain.kind, "f32");
  assertEquals(plain.data, many);
});

Deno.test("WGSL float constants are hexadecimal literals of the exact float32", () => {
  for (const x of [0.5, 1 / 0.7, 0.9, 1e-8, -3.25, 0.999, 1e-45]) {
    const literal = f32(x);
    const m = /^(-?)0x([0-9a-f]+)p(-?\d+)f$/.exec(literal);
    assert(m !== null, literal);
    const value = (m[1] ? -1 : 1) * parseInt(m[2], 16) * 2 ** Number(m[3]);
    assertEquals(value, Math.fround(x), literal);
  }
  assertThrows(() => f32(Infinity));
});

Deno.test("the step uniform block holds offset, size, rows, Adam scalars, KL weight and keys", () => {
  const shape = {
    layout: paramLayout(MODEL),
    mode: "rdrop",
    dropout: 0.5,
    imagesAsBytes: true,
    maxBatch: 8,
    adam: { beta1: 0.9, beta2: 0.999, epsilon: 1e-8 },
  } as KernelShape;
  const bytes = encodeStepParams(shape, {
    offset: 40,
    size: 8,
    stepSize: 0.01,
    invCorrection2: 2,
    klScale: 0.5,
    keys: [7, 0xffffffff],
  });
  const u = new Uint32Array(bytes);
  const f = new Float32Array(bytes);
  assertEquals([u[0], u[1], u[2]], [40, 8, 16]);
  assertEquals([f[4], f[5], f[6]], [Math.fround(0.01), 2, 0.5]);
  assertEquals([u[8], u[9]], [7, 0xffffffff]);
});

Deno.test({
  name:
    "the call counter counts dispatches, submissions, maps and writes, and uninstalls",
  ignore: SKIP_REASON !== null,
  async fn() {
    const { device } = await gpu();
    const counter = installGpuCallCounter();
    try {
      const pipeline = device.createComputePipeline({
        layout: "auto",
        compute: {
          module: device.createShaderModule({
            code: "@compute @workgroup_size(1) fn main() {}",
          }),
          entryPoint: "main",
        },
      });
      const read = device.createBuffer({
        size: 4,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const src = device.createBuffer({
        size: 4,
        usage: GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(src, 0, new Float32Array([1]));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.dispatchWorkgroups(1);
      pass.dispatchWorkgroups(2);
      pass.end();
      encoder.copyBufferToBuffer(src, 0, read, 0, 4);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      assertEquals(counter.read(), {
        dispatches: 2,
        submissions: 1,
        maps: 1,
        writes: 1,
      });
      counter.reset();
      assertEquals(counter.read(), {
        dispatches: 0,
        submissions: 0,
        maps: 0,
        writes: 0,
      });
    } finally {
      counter.uninstall();
    }
    device.queue.submit([]);
    assertEquals(counter.read().submissions, 0, "uninstalled");
  },
});

Deno.test({
  name:
    "a fused step is 8 dispatches and at most 1 submission, with no map until the metrics read",
  ignore: SKIP_REASON !== null,
  async fn() {
    const context = await gpu();
    const step = createFusedStep(context, initialValues(MODEL, { seed: 1 }), {
      model: MODEL,
      mode: "rdrop",
      alpha: 1,
      learningRate: 0.01,
      seed: 1,
    });
    const set = {
      images: new Float32Array(40 * MODEL.inputSize).fill(0.5),
      labels: new Int32Array(40),
      count: 40,
      features: MODEL.inputSize,
    };
    step.attachTrainingSet(set);
    step.run({
      ...set,
      x: set.images,
      y: set.labels,
      rows: 8,
      source: { start: 0, order: null },
    });
    await step.takeMetrics(); // pipelines built, order uploaded
    const counter = installGpuCallCounter();
    try {
      for (let k = 0; k < 10; k++) {
        step.run({
          x: set.images,
          y: set.labels,
          rows: 8,
          source: { start: 8 * (k % 4), order: null },
        });
      }
      const queued = counter.read();
      assertEquals(queued.dispatches, 80);
      assert(queued.submissions <= 10, `${queued.submissions} submissions`);
      assertEquals(queued.maps, 0);
      await step.takeMetrics();
      const read = counter.read();
      assertEquals(
        read.submissions,
        10,
        "the read rides in the last step's submission",
      );
      assertEquals(read.maps, 1);
    } finally {
      counter.uninstall();
      step.dispose();
    }
  },
});
