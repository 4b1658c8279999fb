import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
// The union package provides tf.loadLayersModel, to prove other tfjs code can load our files.
import * as tfl from "@tensorflow/tfjs";
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import {
  decodeModelArtifacts,
  disposeMlp,
  encodeModelArtifacts,
  initialValues,
  initMlp,
  loadModelArtifacts,
  type MlpConfig,
  predictLogits,
  readMlpValues,
  saveModelArtifacts,
} from "../../models/mlp.ts";
import { ModelError } from "../../models/errors.ts";

await tf.setBackend("cpu");

const SMALL: MlpConfig = {
  inputSize: 50,
  hidden: [40, 30],
  classes: 4,
  dropout: 0.25,
};

Deno.test("initMlp draws weights and biases like nn.Linear: uniform in +-1/sqrt(fanIn)", async () => {
  const config: MlpConfig = {
    inputSize: 400,
    hidden: [300],
    classes: 10,
    dropout: 0.5,
  };
  const params = initMlp(config, { seed: 3 });
  const values = await readMlpValues(params);
  const fanIns = [400, 400, 300, 300];
  values.forEach((v, i) => {
    const bound = 1 / Math.sqrt(fanIns[i]);
    let min = Infinity, max = -Infinity, sum = 0, sumSq = 0;
    for (const x of v) {
      min = Math.min(min, x);
      max = Math.max(max, x);
      sum += x;
      sumSq += x * x;
    }
    assert(
      min >= -bound && max <= bound,
      `param ${i} outside +-${bound}: [${min}, ${max}]`,
    );
    if (v.length > 1000) {
      // The range is used (not a narrower distribution) and the spread is uniform's.
      assert(
        min < -0.99 * bound && max > 0.99 * bound,
        `param ${i} does not fill the range`,
      );
      const mean = sum / v.length;
      assertAlmostEquals(mean, 0, 0.02 * bound, `mean of param ${i}`);
      assertAlmostEquals(
        sumSq / v.length,
        (bound * bound) / 3,
        0.02 * bound * bound,
        `var ${i}`,
      );
    }
  });
  assertEquals(params.weights.map((w) => w.shape), [[400, 300], [300, 10]]);
  assertEquals(params.biases.map((b) => b.shape), [[300], [10]]);
  disposeMlp(params);
});

Deno.test("initMlp is a pure function of the seed", () => {
  const a = initialValues(SMALL, { seed: 7 });
  const b = initialValues(SMALL, { seed: 7 });
  const c = initialValues(SMALL, { seed: 8 });
  assertEquals(Array.from(a[0].slice(0, 20)), Array.from(b[0].slice(0, 20)));
  assert(a[0][0] !== c[0][0], "different seeds gave the same weights");
});

Deno.test("predictLogits computes relu(x W0 + b0) ... W_last + b_last", async () => {
  const config: MlpConfig = {
    inputSize: 2,
    hidden: [2],
    classes: 2,
    dropout: 0.5,
  };
  const params = initMlp(config, { seed: 1 });
  tf.tidy(() => {
    params.weights[0].assign(tf.tensor2d([[1, -1], [2, 1]]));
    params.biases[0].assign(tf.tensor1d([0, -5]));
    params.weights[1].assign(tf.tensor2d([[1, 0], [0, 1]]));
    params.biases[1].assign(tf.tensor1d([0.5, 0]));
  });
  const logits = predictLogits(params, tf.tensor2d([[1, 1], [-1, 3]]));
  // Row 1: [3, -5] -> relu [3, 0] -> [3.5, 0]; row 2: [5, -1] -> [5, 0] -> [5.5, 0].
  assertEquals(Array.from(await logits.data()), [3.5, 0, 5.5, 0]);
  logits.dispose();
  disposeMlp(params);
});

Deno.test("model artifacts round-trip and load with tf.loadLayersModel", async () => {
  const params = initMlp(SMALL, { seed: 5 });
  const dir = await Deno.makeTempDir();
  try {
    await saveModelArtifacts(dir, params, { dropout: SMALL.dropout });
    const loaded = await loadModelArtifacts(dir);
    assertEquals(loaded.config, SMALL);
    const x = tf.randomUniform(
      [3, SMALL.inputSize],
      0,
      1,
      "float32",
      11,
    ) as tf.Tensor2D;
    const want = await predictLogits(params, x).data();
    const got = await predictLogits(loaded.params, x).data();
    assertEquals(Array.from(got), Array.from(want));

    const modelJson = await Deno.readTextFile(`${dir}/model.json`);
    const weightsBin = await Deno.readFile(`${dir}/weights.bin`);
    const parsed = JSON.parse(modelJson);
    const model = await tfl.loadLayersModel(tfl.io.fromMemory({
      modelTopology: parsed.modelTopology,
      weightSpecs: parsed.weightsManifest[0].weights,
      weightData: weightsBin.slice().buffer,
    }));
    const keras = await (model.predict(x) as tf.Tensor).data();
    for (let i = 0; i < want.length; i++) {
      assertAlmostEquals(keras[i], want[i], 1e-5);
    }
    model.dispose();
    disposeMlp(loaded.params);
    x.dispose();
  } finally {
    disposeMlp(params);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("decodeModelArtifacts rejects a truncated weights file and a foreign model.json", () => {
  const values = initialValues(SMALL, { seed: 1 });
  const artifacts = encodeModelArtifacts(SMALL, values);
  const short = {
    ...artifacts,
    weightsBin: artifacts.weightsBin.slice(0, 100),
  };
  assert(assertThrows(() => decodeModelArtifacts(short)) instanceof ModelError);
  const foreign = {
    ...artifacts,
    modelJson: JSON.stringify({ format: "graph-model" }),
  };
  assert(
    assertThrows(() => decodeModelArtifacts(foreign)) instanceof ModelError,
  );
  const notJson = { ...artifacts, modelJson: "{" };
  assert(
    assertThrows(() => decodeModelArtifacts(notJson)) instanceof ModelError,
  );
  const decoded = decodeModelArtifacts(artifacts);
  assertEquals(Array.from(decoded.values[3]), Array.from(values[3]));
});

Deno.test("loadModelArtifacts names the directory when files are missing", async () => {
  const error = await assertRejects(() =>
    loadModelArtifacts("/nonexistent/model")
  );
  assert(
    error instanceof ModelError && error.message.includes("/nonexistent/model"),
  );
});
