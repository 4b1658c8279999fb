/**
 * Failures of the fused WebGPU step end in ModelErrors that name the adapter and the fix:
 * no adapter, no WebGPU at all, a lost device, an allocation the adapter cannot hold, an
 * out-of-memory error; and a NaN loss shows in the next metrics read.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "../assert.ts";
import { ModelError } from "../../../models/errors.ts";
import { initialValues } from "../../../models/mlp.ts";
import {
  DeviceGuard,
  type GpuContext,
  requestGpuDevice,
} from "../../../models/webgpu/device.ts";
import { createFusedStep } from "../../../models/webgpu/step.ts";
import { data, MODEL, SKIP_REASON } from "./_fixture.ts";

const CONFIG = {
  model: MODEL,
  mode: "rdrop" as const,
  alpha: 1,
  learningRate: 0.01,
  seed: 1,
};
const batch = (rows: number, fill = 0.5) => ({
  x: new Float32Array(rows * MODEL.inputSize).fill(fill),
  y: new Int32Array(rows),
  rows,
});

Deno.test("a missing adapter or missing WebGPU is a ModelError naming the fix", async () => {
  const none = await assertRejects(
    () =>
      requestGpuDevice({
        gpu: { requestAdapter: () => Promise.resolve(null) },
      }),
    ModelError,
  ) as ModelError;
  assertStringIncludes(none.message, "no WebGPU adapter found");
  assertStringIncludes(none.message, "Vulkan");
  assertStringIncludes(none.message, "backend=wasm");
  const absent = await assertRejects(
    () => requestGpuDevice({ gpu: null }),
    ModelError,
  ) as ModelError;
  assertStringIncludes(absent.message, "no navigator.gpu");
});

Deno.test("an out-of-memory error names the adapter and the fix; other errors say it is a bug", () => {
  const context = {
    device: { lost: new Promise(() => {}) },
    adapter: "Some GPU 9000",
    software: false,
  };
  const guard = new DeviceGuard(context as unknown as GpuContext);
  const oom = guard.fromGpuError(
    new GPUOutOfMemoryError("allocation failed"),
    "activations",
  );
  assertStringIncludes(
    oom.message,
    `"Some GPU 9000" ran out of memory for the activations`,
  );
  assertStringIncludes(oom.message, "smaller batch size");
  assertStringIncludes(oom.message, "backend=wasm");
  const invalid = guard.fromGpuError(
    new GPUValidationError("bad binding"),
    "head kernel",
  );
  assertStringIncludes(invalid.message, "bug of the fused WebGPU step");
});

Deno.test({
  name:
    "a lost device ends the next read and the next step with a ModelError naming the adapter",
  ignore: SKIP_REASON !== null,
  async fn() {
    const context = await requestGpuDevice();
    const step = createFusedStep(
      context,
      initialValues(MODEL, { seed: 1 }),
      CONFIG,
    );
    step.run(batch(4));
    await step.takeMetrics();
    step.run(batch(4));
    context.device.destroy();
    const error = await assertRejects(
      () => step.takeMetrics(),
      ModelError,
    ) as ModelError;
    assertStringIncludes(error.message, context.adapter);
    assertStringIncludes(error.message, "was lost");
    assertStringIncludes(error.message, "backend=wasm");
    const again = assertThrows(
      () => step.run(batch(4)),
      ModelError,
    ) as ModelError;
    assertStringIncludes(again.message, "was lost");
    step.dispose();
  },
});

Deno.test({
  name:
    "a buffer beyond the adapter's binding limit is refused before allocation, naming both sizes",
  ignore: SKIP_REASON !== null,
  async fn() {
    const real = await requestGpuDevice();
    // The same device, reporting a binding limit of 8 KiB.
    const device = new Proxy(real.device, {
      get(target, key) {
        if (key === "limits") {
          return {
            maxStorageBufferBindingSize: 8192,
            maxComputeWorkgroupsPerDimension: 65535,
          };
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const step = createFusedStep(
      { ...real, device },
      initialValues(MODEL, { seed: 1 }),
      CONFIG,
    );
    const set = data(200, { palette: false, seed: 1 });
    const error = assertThrows(
      () =>
        step.attachTrainingSet({
          ...set,
          count: 200,
          features: MODEL.inputSize,
        }),
      ModelError,
    ) as ModelError;
    assertStringIncludes(error.message, "training set images needs 15.6 KiB");
    assertStringIncludes(error.message, "allows 8.0 KiB");
    assertStringIncludes(error.message, real.adapter);
    step.dispose();
    real.device.destroy();
  },
});

Deno.test({
  name:
    "a NaN in the data shows as a NaN loss sum at the next metrics read, not before",
  ignore: SKIP_REASON !== null,
  async fn() {
    const context = await requestGpuDevice();
    const step = createFusedStep(
      context,
      initialValues(MODEL, { seed: 1 }),
      CONFIG,
    );
    step.run(batch(4));
    const fine = await step.takeMetrics();
    assert(Number.isFinite(fine.lossSum), `loss ${fine.lossSum}`);
    step.run(batch(4, NaN));
    step.run(batch(4));
    const bad = await step.takeMetrics();
    assertEquals(bad.steps, 2);
    assert(Number.isNaN(bad.lossSum), `loss ${bad.lossSum}`);
    step.dispose();
    context.device.destroy();
  },
});

Deno.test("a refused device request is retried on a fresh adapter without raised limits, then named", async () => {
  const requests: { adapter: number; limits: unknown }[] = [];
  let adapters = 0;
  const fakeGpu = (failures: number) => ({
    requestAdapter() {
      const id = ++adapters;
      return Promise.resolve({
        info: { description: "Fake GPU 1" },
        limits: {
          maxStorageBufferBindingSize: 1 << 30,
          maxBufferSize: 1 << 30,
        },
        requestDevice(descriptor?: { requiredLimits?: unknown }) {
          requests.push({ adapter: id, limits: descriptor?.requiredLimits });
          if (requests.length <= failures) {
            return Promise.reject(new Error("refused"));
          }
          return Promise.resolve({ lost: new Promise(() => {}) });
        },
      } as unknown as GPUAdapter);
    },
  });
  const context = await requestGpuDevice({ gpu: fakeGpu(1) });
  assertEquals(context.adapter, "Fake GPU 1");
  assertEquals(context.software, false);
  assertEquals(requests.length, 2);
  assert(
    requests[0].adapter !== requests[1].adapter,
    "the retry used a fresh adapter",
  );
  assertEquals(requests[1].limits, undefined);
  requests.length = 0;
  const error = await assertRejects(
    () => requestGpuDevice({ gpu: fakeGpu(2) }),
    ModelError,
  ) as ModelError;
  assertStringIncludes(
    error.message,
    `"Fake GPU 1" could not create a device (refused)`,
  );
  assertStringIncludes(error.message, "backend=wasm");
});
