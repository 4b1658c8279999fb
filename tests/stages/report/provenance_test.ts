import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import { makeInput, makeRun } from "./fixtures.ts";
import {
  Metrics,
  type Provenance,
  renderReport,
} from "../../../stages/report/mod.ts";
import { collectProvenance, describeBlas } from "../../../stages/provenance.ts";

const PROVENANCE: Provenance = {
  commit: "0123456789abcdef0123456789abcdef01234567",
  branch: "main",
  dirty: {
    state: "dirty",
    detail: "1 tracked file(s) differ from git's index: a.ts",
  },
  command: "deno task pipeline --set 'seeds=[0,1]'",
  machine: {
    cpu: "Example CPU @ 2.00GHz",
    cores: 2,
    memoryBytes: 24 * 2 ** 30,
    os: "linux x86_64",
    gpuAdapters: [],
  },
  versions: {
    deno: "2.9.6",
    tfjs: "4.22.0",
    blas: ["OpenBLAS 0.3.21, Haswell kernels, 1 thread"],
  },
  missing: [],
};

Deno.test("the report opens with commit, command, date, machine, GPU and versions", async () => {
  const runs = [makeRun("baseline", 0), makeRun("rdrop", 0)];
  const { files, metrics } = await renderReport({
    ...makeInput(runs),
    provenance: PROVENANCE,
  });
  const md = files["report.md"];
  const header = md.slice(0, md.indexOf("## Summary"));
  for (
    const row of [
      "| Commit | `0123456789ab` (main), dirty: 1 tracked file(s) differ from git's index: a.ts |",
      "| Command | `deno task pipeline --set 'seeds=[0,1]'` |",
      "| Date | 2026-11-29T10:00:00.000Z |",
      "| Machine | Example CPU @ 2.00GHz, 2 cores, 24.0 GiB memory, linux x86_64 |",
      "| GPU adapter | none |",
      "| Versions | Deno 2.9.6, TensorFlow.js 4.22.0, BLAS OpenBLAS 0.3.21, Haswell kernels, 1 thread |",
    ]
  ) assertStringIncludes(header, row);
  // metrics.json carries it too, and the published figures link their source.
  assertEquals(
    Metrics.parse(JSON.parse(files["metrics.json"])).provenance,
    PROVENANCE,
  );
  assertStringIncludes(
    md,
    "[the reference notebook (mathfirst/R-Dropout)](https://github.com/mathfirst/R-Dropout)",
  );
  assertEquals(metrics.published.url, "https://github.com/mathfirst/R-Dropout");
  // An input without provenance (older callers) renders without the section.
  const plain = await renderReport(makeInput(runs));
  assert(!plain.files["report.md"].includes("How this report was made"));
});

Deno.test("collectProvenance: quoted command, adapters and BLAS from the runs, and what it could not read", async () => {
  const root = await Deno.makeTempDir();
  try {
    const p = await collectProvenance(root, [
      { adapter: null, tfjs: "4.22.0" },
      {
        adapter: "NVIDIA H200",
        tfjs: "4.22.0",
        blas: { version: "0.3.21", coreName: "Haswell", threads: 2 },
      },
    ], { args: ["--set", "seeds=[0,1]", "report"] });
    assertEquals(p.command, "deno task pipeline --set 'seeds=[0,1]' report");
    assertEquals(p.machine.gpuAdapters, ["NVIDIA H200"]);
    assertEquals(p.versions.blas, [
      "OpenBLAS 0.3.21, Haswell kernels, 2 threads",
    ]);
    assertEquals(p.versions.tfjs, "4.22.0");
    assertEquals([p.commit, p.dirty.state], [null, "unknown"]);
    assertEquals(p.machine.cores, navigator.hardwareConcurrency);
    // Each fact is either read or listed as missing with the flag that allows it.
    const memoryGranted =
      Deno.permissions.querySync({ name: "sys", kind: "systemMemoryInfo" })
        .state === "granted";
    assertEquals(p.machine.memoryBytes !== null, memoryGranted);
    assertEquals(
      p.missing.some((m) => m.includes("--allow-sys=systemMemoryInfo")),
      !memoryGranted,
    );
    const cpuGranted =
      Deno.permissions.querySync({ name: "sys", kind: "cpus" }).state ===
        "granted";
    assertEquals(p.machine.cpu !== null, cpuGranted);
    assertEquals(
      p.missing.some((m) => m.includes("--allow-sys=cpus")),
      !cpuGranted,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("describeBlas reads run.json's optional blas loosely", () => {
  assertEquals(describeBlas(null), null);
  assertEquals(describeBlas(undefined), null);
  assertEquals(
    describeBlas({ version: null, coreName: "Prescott", threads: 1 }),
    "OpenBLAS (version unknown), Prescott kernels, 1 thread",
  );
});
