import * as tf from "@tensorflow/tfjs-core";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
} from "../assert.ts";
import {
  describeAdapter,
  describeEnvironment,
  type GpuLike,
  isSoftwareAdapter,
  probeAdapter,
  selectBackend,
} from "../../models/backend.ts";
import { ModelError } from "../../models/errors.ts";
import {
  disposeMlp,
  initialValues,
  type MlpConfig,
  mlpFromValues,
} from "../../models/mlp.ts";
import { createReferenceStep } from "../../models/reference_step.ts";
import { type Blas, probeBlas } from "../../models/native/blas.ts";
import { tfjsStepFactory } from "../../models/tfjs_step.ts";
import { createTrainStep } from "../../models/train_step.ts";
import { train, type TrainOptions } from "../../models/trainer.ts";
import { blobs } from "./_synthetic.ts";

function fakeGpu(info: Record<string, unknown> | null): GpuLike {
  return {
    requestAdapter: () =>
      Promise.resolve(
        info === null ? null : ({
          info,
          features: new Set(),
          limits: {},
        } as unknown as GPUAdapter),
      ),
  };
}

Deno.test("probeAdapter reads GPUAdapterInfo-style getters", async () => {
  class Info {
    get description() {
      return "llvmpipe (LLVM 15.0.6, 256 bits)";
    }
    get vendor() {
      return "65541";
    }
    get isFallbackAdapter() {
      return true;
    }
  }
  const gpu: GpuLike = {
    requestAdapter: () =>
      Promise.resolve({ info: new Info() } as unknown as GPUAdapter),
  };
  assertEquals(await probeAdapter(gpu), {
    description: "llvmpipe (LLVM 15.0.6, 256 bits) [fallback]",
    software: true,
  });
});

Deno.test("software adapters are recognised; hardware ones are not", () => {
  assert(
    isSoftwareAdapter({ description: "llvmpipe (LLVM 15.0.6, 256 bits)" }),
  );
  assert(isSoftwareAdapter({ description: "lavapipe" }));
  assert(
    isSoftwareAdapter({
      vendor: "google",
      description: "SwiftShader Device (Subzero)",
    }),
  );
  assert(
    isSoftwareAdapter({ description: "Some GPU", isFallbackAdapter: true }),
  );
  assert(!isSoftwareAdapter({ vendor: "nvidia", description: "NVIDIA H200" }));
  assert(
    !isSoftwareAdapter({
      vendor: "4098",
      description: "AMD Radeon RX 7900 XTX (RADV NAVI31)",
    }),
  );
  assertEquals(
    describeAdapter({ description: "llvmpipe", isFallbackAdapter: true }),
    "llvmpipe [fallback]",
  );
  assertEquals(
    describeAdapter({ vendor: "nvidia", architecture: "hopper" }),
    "nvidia hopper",
  );
});

const NO_BLAS = () => ({ ok: false as const, reason: "no OpenBLAS found" });

Deno.test("auto without a hardware GPU or OpenBLAS picks wasm, with a one-line note and the install hint", async () => {
  const software = await selectBackend("auto", {
    gpu: fakeGpu({ description: "llvmpipe", isFallbackAdapter: true }),
    blas: NO_BLAS,
  });
  assertEquals(software.backend, "wasm");
  assertEquals(tf.getBackend(), "wasm");
  assert(
    software.note?.includes("llvmpipe") && !software.note.includes("\n") &&
      software.note.includes("apt-get install libopenblas0-pthread"),
    software.note,
  );
  const none = await selectBackend("auto", { gpu: null, blas: NO_BLAS });
  assertEquals([none.backend, none.adapter], ["wasm", null]);
  assert(none.note?.includes("no WebGPU adapter"), none.note);
  const missing = await selectBackend("auto", {
    gpu: fakeGpu(null),
    blas: NO_BLAS,
  });
  assertEquals(missing.backend, "wasm");
  const probe = await probeAdapter(fakeGpu({ description: "NVIDIA H200" }));
  assertEquals(probe, { description: "NVIDIA H200", software: false });
});

Deno.test("auto without a hardware GPU picks native when OpenBLAS loads; a hardware GPU still wins", async () => {
  const blas = fakeBlas();
  const native = await selectBackend("auto", {
    gpu: fakeGpu({ description: "llvmpipe", isFallbackAdapter: true }),
    blas: () => ({ ok: true, blas }),
  });
  assertEquals(native.backend, "native");
  assertEquals(native.blas, blas);
  // tfjs runs evaluation and saving on wasm meanwhile.
  assertEquals(tf.getBackend(), "wasm");
  assert(
    native.note?.includes("using native") &&
      native.note.includes("FakeCore") && !native.note.includes("\n"),
    native.note,
  );
  const forced = await selectBackend("native", {
    blas: () => ({ ok: true, blas }),
  });
  assertEquals([forced.backend, forced.blas], ["native", blas]);
});

Deno.test("forcing native without OpenBLAS is a ModelError with the install hint", async () => {
  const error = await assertRejects(() =>
    selectBackend("native", {
      blas: () => probeBlas({ path: "/nonexistent/libopenblas.so.0" }),
    })
  );
  assert(error instanceof ModelError, String(error));
  assert(
    error.message.includes("apt-get install libopenblas0-pthread") &&
      error.message.includes("/nonexistent/libopenblas.so.0"),
    error.message,
  );
});

function fakeBlas(): Blas {
  return {
    info: {
      library: "/fake/libopenblas.so.0",
      config: "OpenBLAS 9.9.9 FakeCore",
      version: "9.9.9",
      coreName: "FakeCore",
      coreTypeOverride: null,
    },
    sgemm() {
      throw new Error("not for computing");
    },
    sgemv() {
      throw new Error("not for computing");
    },
    saxpy() {
      throw new Error("not for computing");
    },
    setThreads() {},
    threads: () => 1,
  };
}

Deno.test("forcing webgpu without an adapter is a ModelError; cpu and wasm are honoured", async () => {
  const error = await assertRejects(() =>
    selectBackend("webgpu", { gpu: null })
  );
  assert(error instanceof ModelError, String(error));
  assertEquals((await selectBackend("cpu")).backend, "cpu");
  assertEquals(describeEnvironment().backend, "cpu");
  assertEquals(describeEnvironment().tfjs, tf.version_core);
  assertEquals((await selectBackend("wasm")).backend, "wasm");
});

const hasAdapter = (await probeAdapter()) !== null;

Deno.test({
  name:
    "WebGPU and wasm steps (optimised and reference) from the same weights give the same losses within 1e-4",
  ignore: !hasAdapter,
  async fn() {
    const config: MlpConfig = {
      inputSize: 12,
      hidden: [16, 8],
      classes: 4,
      dropout: 0.5,
    };
    const values = initialValues(config, { seed: 21 });
    const xs = Float32Array.from(
      { length: 6 * 12 },
      (_, i) => Math.sin(i * 0.7),
    );
    const ys = Int32Array.from([0, 1, 2, 3, 1, 2]);
    type Create = typeof createReferenceStep;
    const lossesOn = async (
      backend: "wasm" | "webgpu",
      mode: "baseline" | "rdrop",
      create: Create,
    ) => {
      const selection = await selectBackend(backend);
      assertEquals(tf.getBackend(), backend);
      const params = mlpFromValues(config, values);
      const step = create(params, {
        mode,
        alpha: 1,
        dropout: 0.5,
        learningRate: 0.01,
        seed: 5,
      });
      const x = tf.tensor2d(xs, [6, 12]);
      const y = tf.tensor1d(ys, "int32");
      const out: number[] = [];
      // Three steps: the later losses depend on the first updates too.
      for (let i = 0; i < 3; i++) {
        const loss = step.run(x, y);
        out.push((await loss.data())[0]);
        loss.dispose();
      }
      step.dispose();
      disposeMlp(params);
      x.dispose();
      y.dispose();
      return { out, adapter: selection.adapter };
    };
    const steps = [["optimised", createTrainStep], [
      "reference",
      createReferenceStep,
    ]] as const;
    for (const [name, create] of steps) {
      for (const mode of ["baseline", "rdrop"] as const) {
        const wasm = await lossesOn("wasm", mode, create);
        const webgpu = await lossesOn("webgpu", mode, create);
        assert(
          webgpu.adapter !== null && !webgpu.adapter.startsWith("unnamed"),
          `adapter described as ${webgpu.adapter}`,
        );
        wasm.out.forEach((l, i) =>
          assertAlmostEquals(
            webgpu.out[i],
            l,
            1e-4,
            `${name} ${mode} step ${i + 1}`,
          )
        );
        assert(
          wasm.out[2] !== wasm.out[0],
          `${name} ${mode}: the steps did nothing`,
        );
      }
    }
    await selectBackend("cpu");
  },
});

Deno.test({
  name:
    "a tiny training run on WebGPU gives wasm's history (train and test loss within 1e-3)",
  ignore: !hasAdapter,
  async fn() {
    const data = {
      train: blobs(200, { features: 20, classes: 3, seed: 1, noise: 1.5 }),
      test: blobs(90, { features: 20, classes: 3, seed: 2, noise: 1.5 }),
    };
    const options: TrainOptions = {
      mode: "rdrop",
      alpha: 1,
      epochs: 1,
      batchSize: 16,
      learningRate: 1e-2,
      seed: 3,
      shuffle: false,
      model: { inputSize: 20, hidden: [32, 16], classes: 3, dropout: 0.3 },
      readEvery: 5,
      // The tfjs step on both backends (the fused WebGPU step has its own tests).
      createStep: tfjsStepFactory(),
    };
    const histories = [];
    for (const backend of ["wasm", "webgpu"] as const) {
      await selectBackend(backend);
      const before = tf.memory().numTensors;
      const result = await train(data, options);
      histories.push(result.history[0]);
      disposeMlp(result.params);
      assertEquals(
        tf.memory().numTensors,
        before,
        `${backend}: tensors leaked`,
      );
    }
    const [wasm, webgpu] = histories;
    assertAlmostEquals(webgpu.trainLoss, wasm.trainLoss, 1e-3, "train loss");
    assertAlmostEquals(webgpu.testLoss, wasm.testLoss, 1e-3, "test loss");
    assertAlmostEquals(
      webgpu.testAccuracy,
      wasm.testAccuracy,
      0.012,
      "test accuracy",
    );
    await selectBackend("cpu");
  },
});
