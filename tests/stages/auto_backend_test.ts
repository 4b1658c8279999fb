import { assert, assertEquals } from "../assert.ts";
import { detectAutoBackend } from "../../stages/auto_backend.ts";
import { probeAdapter } from "../../models/adapter.ts";
import { BLAS_LIBRARY_ENV, probeBlas } from "../../models/native/blas.ts";
import { selectBackend } from "../../models/backend.ts";

const hardwareGpu = (await probeAdapter())?.software === false;

Deno.test({
  name:
    "auto resolves to wasm, with the install hint, when RDROP_BLAS_LIBRARY names a missing file",
  ignore: hardwareGpu, // a hardware GPU wins before BLAS is asked
  async fn() {
    const before = Deno.env.get(BLAS_LIBRARY_ENV);
    Deno.env.set(BLAS_LIBRARY_ENV, "/nonexistent/dir/libopenblas.so.0");
    try {
      assertEquals(await detectAutoBackend(), "wasm");
      const selection = await selectBackend("auto");
      assertEquals(selection.backend, "wasm");
      assert(
        selection.note?.includes("apt-get install libopenblas0-pthread") &&
          selection.note.includes("/nonexistent/dir/libopenblas.so.0"),
        selection.note,
      );
    } finally {
      if (before === undefined) Deno.env.delete(BLAS_LIBRARY_ENV);
      else Deno.env.set(BLAS_LIBRARY_ENV, before);
    }
    // Without the override, the standard places decide.
    assertEquals(
      await detectAutoBackend(),
      probeBlas().ok ? "native" : "wasm",
    );
  },
});
