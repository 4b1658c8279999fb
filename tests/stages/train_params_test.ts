import { assertEquals } from "../assert.ts";
import { Params } from "../../stages/params.ts";
import { trainParams } from "../../stages/train_params.ts";

Deno.test("trainParams: the resolved backend is in the key; blasThreads only for native", () => {
  const p = Params.parse({ train: { blasThreads: 2 } });
  const native = trainParams(p, "rdrop", { autoBackend: "native" });
  assertEquals([native.backend, native.blasThreads], ["native", 2]);
  const wasm = trainParams(p, "rdrop", { autoBackend: "wasm" });
  assertEquals(wasm.backend, "wasm");
  assertEquals("blasThreads" in wasm, false);
  const forced = trainParams(
    Params.parse({ train: { backend: "wasm" } }),
    "baseline",
    { autoBackend: "native" },
  );
  assertEquals([forced.backend, forced.alpha, "blasThreads" in forced], [
    "wasm",
    0,
    false,
  ]);
  assertEquals(Params.parse({}).train.blasThreads, 1);
});
