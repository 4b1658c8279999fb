/**
 * The fused WebGPU step against the CPU step (same initial values, same dropout masks):
 * losses and every parameter and Adam moment within 1e-4 after 20 steps; masks bit for bit;
 * a seeded run reproducible; resume equal to an uninterrupted run.
 */
import { assert, assertEquals } from "../assert.ts";
import { initialValues, type MlpConfig } from "../../../models/mlp.ts";
import { dropoutMaskValues } from "../../../models/train_step.ts";
import { dropoutKey, dropoutWgsl } from "../../../models/webgpu/dropout.ts";
import {
  createFusedStep,
  type FusedStep,
} from "../../../models/webgpu/step.ts";
import {
  batchAt,
  cpuRun,
  data,
  gpu,
  maxDifference,
  MODEL,
  type RunResult,
  type RunSettings,
  SKIP_REASON,
} from "./_fixture.ts";

const COUNT = 21; // batches of 8, 8 and 5: the partial batch is covered.

async function gpuRun(
  set: { images: Float32Array; labels: Int32Array },
  settings: RunSettings & { attach: boolean },
  hooks: { afterStep?: (k: number, step: FusedStep) => Promise<FusedStep> } =
    {},
): Promise<RunResult> {
  const context = await gpu();
  const model = settings.model ?? MODEL;
  let step = createFusedStep(context, initialValues(model, { seed: 1 }), {
    model: model,
    mode: settings.mode,
    alpha: 1,
    learningRate: 0.01,
    seed: settings.seed,
  });
  if (settings.attach) {
    step.attachTrainingSet({ ...set, count: COUNT, features: model.inputSize });
  }
  const losses: number[] = [];
  for (let k = 0; k < settings.steps; k++) {
    const { start, size } = batchAt(k, COUNT, settings.batch);
    const rows = Array.from(
      { length: size },
      (_, i) => settings.order ? settings.order[start + i] : start + i,
    );
    const x = new Float32Array(size * model.inputSize);
    rows.forEach((r, i) =>
      x.set(
        set.images.subarray(r * model.inputSize, (r + 1) * model.inputSize),
        i * model.inputSize,
      )
    );
    const y = Int32Array.from(rows, (r) => set.labels[r]);
    step.run(
      settings.attach
        ? {
          x: new Float32Array(0),
          y: new Int32Array(0),
          rows: size,
          source: { start, order: settings.order },
        }
        : { x, y, rows: size },
    );
    const metrics = await step.takeMetrics();
    assertEquals(metrics.steps, 1);
    assertEquals(metrics.rows, settings.mode === "rdrop" ? 2 * size : size);
    assert(
      metrics.correct >= 0 && metrics.correct <= metrics.rows,
      `correct ${metrics.correct}`,
    );
    losses.push(metrics.lossSum);
    if (hooks.afterStep) step = await hooks.afterStep(k, step);
  }
  const values = await step.getValues();
  const state = await step.getState();
  assertEquals(state.step, settings.steps);
  step.dispose();
  return { losses, values, m: state.m, v: state.v };
}

const shuffled = Int32Array.from([
  5,
  17,
  2,
  9,
  0,
  20,
  13,
  1,
  8,
  11,
  3,
  19,
  6,
  15,
  4,
  12,
  7,
  18,
  10,
  16,
  14,
]);

/**
 * A model wider than one matmul tile (TILE_COLS = 256 columns): layers of 520 outputs and
 * inputs span three column tiles, the 9-wide layer's weight gradient is computed transposed.
 */
const WIDE: MlpConfig = {
  inputSize: 12,
  hidden: [520, 9],
  classes: 3,
  dropout: 0.5,
};

for (const mode of ["baseline", "rdrop"] as const) {
  for (
    const [palette, model] of [[true, MODEL], [false, MODEL], [
      true,
      WIDE,
    ]] as const
  ) {
    const wide = model === WIDE;
    Deno.test({
      name: `fused WebGPU ${mode} step = CPU step after 20 steps within 1e-4 (${
        palette
          ? "training set uploaded once as palette codes, shuffled order"
          : "float32 host batches"
      }${wide ? ", model 12-520-9-3 wider than a tile" : ""})`,
      ignore: SKIP_REASON !== null,
      async fn() {
        const set = data(COUNT, { palette, seed: 2, model });
        const settings = {
          mode,
          steps: 20,
          batch: 8,
          seed: 5,
          order: palette ? shuffled : null,
          model,
        };
        const cpu = await cpuRun(set, settings);
        const fused = await gpuRun(set, { ...settings, attach: palette });
        const lossDiff = maxDifference([cpu.losses], [fused.losses]);
        assert(
          lossDiff <= 1e-4,
          `losses differ by ${lossDiff}: cpu ${cpu.losses} gpu ${fused.losses}`,
        );
        for (const key of ["values", "m", "v"] as const) {
          const diff = maxDifference(cpu[key], fused[key]);
          assert(diff <= 1e-4, `${key} differ by up to ${diff}`);
        }
        // The run did something: parameters moved well beyond the tolerance.
        const moved = maxDifference(
          initialValues(model, { seed: 1 }),
          fused.values,
        );
        assert(moved > 1e-2, `parameters moved only ${moved}`);
      },
    });
  }
}

Deno.test({
  name: "dropout masks hashed on the GPU are the CPU steps' masks, bit for bit",
  ignore: SKIP_REASON !== null,
  async fn() {
    const { device } = await gpu();
    for (
      const [rate, rows, cols, step, layer] of [[0.5, 64, 512, 7, 0], [
        0.3,
        9,
        37,
        123456,
        1,
      ], [0.9, 2, 5, 0, 2]]
    ) {
      const expected = dropoutMaskValues(rows, cols, {
        rate,
        seed: 11,
        step,
        layer,
      });
      const code = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
${dropoutWgsl(rate)}
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  if (id.x >= ${rows * cols}u) { return; }
  out[id.x] = dropoutScale(${
        dropoutKey(11, { step, layer })
      }u, id.x / ${cols}u, id.x % ${cols}u, ${cols}u);
}`;
      const pipeline = device.createComputePipeline({
        layout: "auto",
        compute: {
          module: device.createShaderModule({ code }),
          entryPoint: "main",
        },
      });
      const out = device.createBuffer({
        size: rows * cols * 4,
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      });
      const read = device.createBuffer({
        size: rows * cols * 4,
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      });
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(
        0,
        device.createBindGroup({
          layout: pipeline.getBindGroupLayout(0),
          entries: [{ binding: 0, resource: { buffer: out } }],
        }),
      );
      pass.dispatchWorkgroups(Math.ceil((rows * cols) / 64));
      pass.end();
      encoder.copyBufferToBuffer(out, 0, read, 0, rows * cols * 4);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      const got = new Float32Array(read.getMappedRange().slice(0));
      read.unmap();
      out.destroy();
      read.destroy();
      assertEquals(
        got,
        expected,
        `rate ${rate}, ${rows}x${cols}, step ${step}, layer ${layer}`,
      );
      const kept = got.filter((x) => x !== 0).length / got.length;
      assert(
        Math.abs(kept - (1 - rate)) < 0.3,
        `kept fraction ${kept} for rate ${rate}`,
      );
    }
  },
});

Deno.test({
  name:
    "a seeded fused WebGPU run is reproducible; another seed gives other masks",
  ignore: SKIP_REASON !== null,
  async fn() {
    const set = data(COUNT, { palette: true, seed: 3 });
    const settings = {
      mode: "rdrop" as const,
      steps: 6,
      batch: 8,
      seed: 9,
      order: null,
      attach: true,
    };
    const a = await gpuRun(set, settings);
    const b = await gpuRun(set, settings);
    assertEquals(b.losses, a.losses);
    assertEquals(b.values, a.values);
    const c = await gpuRun(set, { ...settings, seed: 10 });
    assert(
      maxDifference(a.values, c.values) > 0,
      "another seed gave the same parameters",
    );
  },
});

Deno.test({
  name:
    "resuming a fused WebGPU run from its values and Adam state continues it exactly",
  ignore: SKIP_REASON !== null,
  async fn() {
    const set = data(COUNT, { palette: true, seed: 4 });
    const settings = {
      mode: "rdrop" as const,
      steps: 8,
      batch: 8,
      seed: 2,
      order: null,
      attach: true,
    };
    const whole = await gpuRun(set, settings);
    const context = await gpu();
    const resumed = await gpuRun(set, settings, {
      async afterStep(k, step) {
        if (k !== 3) return step;
        const values = await step.getValues();
        const state = await step.getState();
        step.dispose();
        const next = createFusedStep(
          context,
          initialValues(MODEL, { seed: 99 }),
          {
            model: MODEL,
            mode: "rdrop",
            alpha: 1,
            learningRate: 0.01,
            seed: 2,
          },
        );
        next.attachTrainingSet({
          ...set,
          count: COUNT,
          features: MODEL.inputSize,
        });
        next.restore(values, state);
        return next;
      },
    });
    assertEquals(resumed.losses, whole.losses);
    assertEquals(resumed.values, whole.values);
    assertEquals(resumed.v, whole.v);
  },
});

Deno.test({
  name:
    "a larger batch or a switch between host batches and the attached set rebuilds the step cleanly",
  ignore: SKIP_REASON !== null,
  async fn() {
    const set = data(COUNT, { palette: true, seed: 7 });
    const step = createFusedStep(
      await gpu(),
      initialValues(MODEL, { seed: 1 }),
      {
        model: MODEL,
        mode: "rdrop",
        alpha: 1,
        learningRate: 0.01,
        seed: 3,
      },
    );
    step.attachTrainingSet({ ...set, count: COUNT, features: MODEL.inputSize });
    const host = (rows: number) => ({ x: set.images, y: set.labels, rows });
    step.run(host(3));
    step.run(host(8)); // grows the buffers while the first step is still pending
    step.run({ ...host(5), source: { start: 4, order: null } }); // the attached set
    step.run(host(8));
    const metrics = await step.takeMetrics();
    assertEquals(metrics.steps, 4);
    assertEquals(metrics.rows, 2 * (3 + 8 + 5 + 8));
    assert(Number.isFinite(metrics.lossSum), `loss ${metrics.lossSum}`);
    step.dispose();
  },
});
