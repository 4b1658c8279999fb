import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "../../assert.ts";
import { CLASS_NAMES, correctFor, makeInput, makeRun } from "./fixtures.ts";
import { assertShellSafeHints } from "../../shell_hints.ts";
import {
  headline,
  Metrics,
  renderReport,
  ReportError,
  type ReportRun,
  writeReportFiles,
} from "../../../stages/report/mod.ts";

const SEEDS = [0, 1, 2, 3, 4];
const BASE_CORRECT = [850, 860, 855, 845, 852]; // of 1000
const GAIN = [10, 12, 8, 11, 9]; // R-Drop's extra correct predictions per seed

function pairedRuns(gains: number[]): ReportRun[] {
  return SEEDS.flatMap((s, i) => [
    makeRun("baseline", s, { correct: correctFor(BASE_CORRECT[i]) }),
    makeRun("rdrop", s, { correct: correctFor(BASE_CORRECT[i] + gains[i]) }),
  ]);
}

/** The expected 95 % interval in pp, from the textbook formula and t_{0.975,4}. */
function expectedInterval(gains: number[]): [string, string] {
  const d = gains.map((g) => g / 10); // pp: 1 of 1000 = 0.1 pp
  const m = d.reduce((a, b) => a + b, 0) / d.length;
  const s = Math.sqrt(d.reduce((a, x) => a + (x - m) ** 2, 0) / (d.length - 1));
  const half = 2.776445 * s / Math.sqrt(d.length);
  const f = (x: number) => `${x < 0 ? "−" : "+"}${Math.abs(x).toFixed(2)} pp`;
  return [f(m - half), f(m + half)];
}

Deno.test("5 seeds: summary, paired t-interval and 'helped' verdict", async () => {
  const { files, metrics } = await renderReport(makeInput(pairedRuns(GAIN)));
  const md = files["report.md"];
  for (
    const name of [
      "accuracy.svg",
      "train_loss.svg",
      "per_class.svg",
      "confusion.svg",
    ]
  ) {
    assert(files[name].startsWith("<svg"), `${name} is not an SVG`);
    assertStringIncludes(md, `](${name})`);
  }
  // Summary rows: mean ± sample std of the baseline accuracies, computed here.
  const acc = BASE_CORRECT.map((c) => c / 10);
  const m = acc.reduce((a, b) => a + b, 0) / 5;
  const s = Math.sqrt(acc.reduce((a, x) => a + (x - m) ** 2, 0) / 4);
  assertStringIncludes(
    md,
    `| Baseline | 5 | ${m.toFixed(2)} ± ${s.toFixed(2)} % |`,
  );
  assertStringIncludes(
    md,
    "| **R-Drop − baseline** | 5 paired | **+1.00 pp** |",
  );
  assertStringIncludes(md, "*Published reference: Baseline* | 1 | 84.26 %");
  assertStringIncludes(md, "*Published reference: R-Drop* | 1 | 85.34 %");
  assertStringIncludes(
    md,
    "reported by [the reference notebook (mathfirst/R-Dropout)](https://github.com/mathfirst/R-Dropout), not measured here",
  );
  const [low, high] = expectedInterval(GAIN);
  assertStringIncludes(md, "95 % paired t-interval (n−1 = 4 df");
  assertStringIncludes(md, `**[${low}, ${high}]**`);
  assertStringIncludes(md, "**R-Drop helped**");
  assert(!md.includes("[!WARNING]"), "consistent runs must not get a warning");
  // Per-seed table rows.
  assertStringIncludes(md, "| 1 | 86.00 % | 87.20 % | +1.20 pp |");
  // metrics.json: parses with the schema and carries the same numbers.
  const parsed = Metrics.parse(JSON.parse(files["metrics.json"]));
  assertEquals(parsed, metrics);
  assertAlmostEquals(parsed.comparison!.meanDifference, 0.01, 1e-12);
  assertAlmostEquals(parsed.comparison!.interval!.tQuantile, 2.776445, 1e-6);
  assertEquals(parsed.comparison!.verdict, "helped");
  assertEquals(parsed.models.map((x) => x.seeds), [SEEDS, SEEDS]);
  const h = headline(metrics);
  assertStringIncludes(h, "R-Drop − baseline +1.00 pp");
  assertStringIncludes(
    h,
    `5 seeds, 95 % paired t-interval [${low}, ${high}]: R-Drop helped`,
  );
  assert(h.split("\n").length <= 3);
});

Deno.test("5 seeds: interval straddling 0 and one below 0", async () => {
  const mixed = [10, -12, 8, -11, 3];
  const r1 = await renderReport(makeInput(pairedRuns(mixed)));
  const [low, high] = expectedInterval(mixed);
  assertStringIncludes(r1.files["report.md"], `**[${low}, ${high}]**`);
  assertStringIncludes(
    r1.files["report.md"],
    "**no clear difference** at n = 5",
  );
  assertEquals(r1.metrics.comparison!.verdict, "unclear");
  const worse = [-10, -12, -8, -11, -9];
  const r2 = await renderReport(makeInput(pairedRuns(worse)));
  assertStringIncludes(r2.files["report.md"], "**R-Drop hurt**");
  assertStringIncludes(headline(r2.metrics), "R-Drop hurt");
});

Deno.test("1 seed: says a single run cannot show significance, no interval", async () => {
  const runs = [
    makeRun("baseline", 0, { correct: correctFor(842) }),
    makeRun("rdrop", 0, { correct: correctFor(853) }),
  ];
  const { files, metrics } = await renderReport(makeInput(runs));
  const md = files["report.md"];
  assertStringIncludes(md, "| Baseline | 1 | 84.20 % |");
  assertStringIncludes(md, "| R-Drop (α=0.05) | 1 | 85.30 % |");
  assertStringIncludes(md, "**+1.10 pp**");
  assertStringIncludes(md, "A single run cannot show significance");
  assert(!md.includes("t-interval"), "no interval with one seed");
  assertEquals(metrics.comparison!.interval, null);
  assertEquals(metrics.comparison!.verdict, "single-run");
  assertEquals(metrics.models[0].testAccuracy.std, null);
  assertStringIncludes(
    headline(metrics),
    "single run cannot show significance",
  );
  // The hint to run more seeds can be pasted into zsh, in the report and on the terminal.
  assertEquals(assertShellSafeHints(md), 1);
  assertEquals(assertShellSafeHints(headline(metrics)), 1);
  Metrics.parse(JSON.parse(files["metrics.json"]));
});

Deno.test("runs that differ beyond the seed get a prominent warning", async () => {
  const runs = [
    makeRun("baseline", 0),
    makeRun("rdrop", 0),
    makeRun("baseline", 1, { epochs: 5 }),
    makeRun("rdrop", 1, { alpha: 0.5, backend: "cpu" }),
  ];
  const { files, metrics } = await renderReport(makeInput(runs));
  const md = files["report.md"];
  assertStringIncludes(md, "> [!WARNING]");
  // The warning comes before the summary so nobody reads the numbers first.
  assert(md.indexOf("[!WARNING]") < md.indexOf("## Summary"));
  assertStringIncludes(
    md,
    "epochs differs between runs: 3 (baseline@0, rdrop@0, rdrop@1); 5",
  );
  assertStringIncludes(
    md,
    "alpha differs between rdrop runs: 0.05 (rdrop@0); 0.5 (rdrop@1)",
  );
  assertStringIncludes(md, "backend differs between runs");
  assert(
    !metrics.warnings.some((w) => w.includes("baseline runs")),
    "baseline alpha is equal",
  );
  assertStringIncludes(
    headline(metrics),
    "Warning: the runs differ in more than the seed",
  );
});

Deno.test("unpaired seeds: warned, and the difference uses common seeds only", async () => {
  const runs = [
    makeRun("baseline", 0, { correct: correctFor(850) }),
    makeRun("baseline", 1, { correct: correctFor(860) }),
    makeRun("rdrop", 1, { correct: correctFor(870) }),
    makeRun("rdrop", 2, { correct: correctFor(800) }),
  ];
  const { metrics, files } = await renderReport(makeInput(runs));
  assertEquals(metrics.comparison!.pairedSeeds, [1]);
  assertAlmostEquals(metrics.comparison!.meanDifference, 0.01, 1e-12);
  assertStringIncludes(
    files["report.md"],
    "the paired difference uses only [1]",
  );
});

Deno.test("only one model: no comparison, said plainly", async () => {
  const { files, metrics } = await renderReport(
    makeInput([makeRun("baseline", 0)]),
  );
  assertEquals(metrics.comparison, null);
  assertStringIncludes(files["report.md"], "Only Baseline runs are present");
});

Deno.test("per-class table, confusion matrices, DAG, stages, params, environment", async () => {
  const base = makeRun("baseline", 0);
  const { files } = await renderReport(makeInput([base, makeRun("rdrop", 0)]));
  const md = files["report.md"];
  for (const name of CLASS_NAMES) assertStringIncludes(md, name);
  const c0 = base.evaluation.confusion[0];
  assertStringIncludes(md, `| 0 T-shirt/top | **${c0[0]}** | ${c0[1]} | 0 |`);
  assertStringIncludes(
    md,
    "```mermaid\nflowchart TD\n  download --> preprocess",
  );
  assertStringIncludes(md, "| train_rdrop@0 | 64.2 s | ran |");
  assertStringIncludes(md, "| download | 0.01 s | cache |");
  assertStringIncludes(
    md,
    "2 of 4 stage instances ran in this invocation and 2 came from the cache",
  );
  assertStringIncludes(md, "| `train.alpha` | `0.05` |");
  assertStringIncludes(md, "| Deno | 2.9.6 |");
  assertStringIncludes(md, "| TensorFlow.js | 4.22.0 |");
  assertStringIncludes(md, "| WebGPU adapter | none |");
});

Deno.test("custom published figures replace the defaults", async () => {
  const input = {
    ...makeInput([makeRun("baseline", 0)]),
    published: { baseline: 0.9, rdrop: 0.91 },
  };
  const { files, metrics } = await renderReport(input);
  assertStringIncludes(
    files["report.md"],
    "*Published reference: Baseline* | 1 | 90.00 %",
  );
  assertAlmostEquals(metrics.published.difference, 0.01, 1e-12);
  assertStringIncludes(
    files["report.md"],
    "reported by the published source, not measured",
  );
  const named = await renderReport({
    ...input,
    published: { baseline: 0.9, rdrop: 0.91, source: "Smith (2020), table 3" },
  });
  assertStringIncludes(
    named.files["report.md"],
    "reported by Smith (2020), table 3, not measured",
  );
  assertEquals(named.metrics.published.source, "Smith (2020), table 3");
});

Deno.test("deterministic: same input gives the same bytes, whatever the run order", async () => {
  const runs = pairedRuns(GAIN);
  const a = await renderReport(makeInput(runs));
  const b = await renderReport(makeInput([...runs].reverse()));
  assertEquals(Object.keys(a.files).sort(), Object.keys(b.files).sort());
  for (const name of Object.keys(a.files)) {
    assert(a.files[name] === b.files[name], `${name} differs between renders`);
  }
  // Only generatedAt may change the output.
  const c = await renderReport({
    ...makeInput(runs),
    generatedAt: "2030-01-01T00:00:00Z",
  });
  assert(c.files["accuracy.svg"] === a.files["accuracy.svg"]);
  const diff = c.files["report.md"].split("\n").filter((l, i) =>
    l !== a.files["report.md"].split("\n")[i]
  );
  assertEquals(diff.length, 1);
  assertStringIncludes(diff[0], "2030-01-01");
});

Deno.test("inconsistent input is a ReportError naming the run", async () => {
  const bad = makeRun("rdrop", 1);
  const other = makeRun("rdrop", 2);
  const mixed = { ...bad, evaluation: other.evaluation };
  const e = await assertRejects(
    () => renderReport(makeInput([makeRun("baseline", 1), mixed])),
    ReportError,
    "rdrop@1 carries a evaluation.json of rdrop@2",
  );
  assertStringIncludes(e.message, "mixed artifacts");
  await assertRejects(
    () =>
      renderReport(makeInput([makeRun("baseline", 0), makeRun("baseline", 0)])),
    ReportError,
    "baseline@0 twice",
  );
  await assertRejects(
    () => renderReport(makeInput([])),
    ReportError,
    "no runs",
  );
  const broken = makeRun("baseline", 0);
  // deno-lint-ignore no-explicit-any
  delete (broken.evaluation as any).testLoss;
  await assertRejects(
    () => renderReport(makeInput([broken])),
    ReportError,
    "testLoss",
  );
});

Deno.test("writeReportFiles writes every file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeReportFiles(`${dir}/results`, {
      "report.md": "# x\n",
      "metrics.json": "{}\n",
    });
    await writeReportFiles(`${dir}/results`, { "report.md": "# y\n" });
    const names = [];
    for await (const e of Deno.readDir(`${dir}/results`)) names.push(e.name);
    assertEquals(names.sort(), ["metrics.json", "report.md"]);
    assertEquals(await Deno.readTextFile(`${dir}/results/report.md`), "# y\n");
    await assertRejects(
      () => writeReportFiles(`${dir}/results`, { "../evil.md": "x" }),
      ReportError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a badly broken input gives a short message, not hundreds of lines", async () => {
  const run = makeRun("baseline", 0);
  run.evaluation.confusion = run.evaluation.confusion.map((row) =>
    row.map(() => -1)
  );
  const e = await assertRejects(
    () => renderReport(makeInput([run])),
    ReportError,
    "confusion",
  );
  assertStringIncludes(e.message, "… and 92 more issue(s)");
  assert(e.message.split("\n").length < 25);
});

Deno.test("runs that disagree with the report's params are warned about", async () => {
  const input = makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]);
  const { metrics, files } = await renderReport({
    ...input,
    params: { seeds: [1], train: { epochs: 10, alpha: 0.1 } },
  });
  assertStringIncludes(files["report.md"], "> [!WARNING]");
  const text = metrics.warnings.join("\n");
  assertStringIncludes(
    text,
    "params say train.epochs = 10, but baseline@0 has 3, rdrop@0 has 3",
  );
  assertStringIncludes(
    text,
    "params say train.alpha = 0.1, but rdrop@0 used 0.05",
  );
  assertStringIncludes(
    text,
    "params say seeds = [1], but the report got runs of seed(s) [0]",
  );
  // Params of an unknown shape are not second-guessed.
  const other = await renderReport({ ...input, params: { something: "else" } });
  assertEquals(other.metrics.warnings, []);
});

Deno.test("params table and a bare Mermaid body", async () => {
  const input = makeInput([makeRun("baseline", 0)]);
  const { files } = await renderReport({
    ...input,
    params: { train: { hidden: [512, 512], backend: "auto" }, seeds: [0] },
    mermaid: "a --> b",
  });
  const md = files["report.md"];
  assertStringIncludes(md, "| `train.hidden` | `[512,512]` |");
  assertStringIncludes(md, '| `train.backend` | `"auto"` |');
  assertStringIncludes(md, "```mermaid\nflowchart TD\na --> b\n```");
});

Deno.test("a run outside the reference setting says the published rows do not compare", async () => {
  const input = makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]);
  const small = await renderReport({
    ...input,
    params: {
      seeds: [0],
      preprocess: { limit: 500 },
      train: { epochs: 3, alpha: 0.05 },
    },
  });
  assertStringIncludes(
    small.files["report.md"],
    "> **Not the reference setting:** preprocess.limit = 500 (reference null), " +
      "train.epochs = 3 (reference 10).",
  );
  assertStringIncludes(
    headline(small.metrics),
    "published +1.08 pp, other setting",
  );
  const reference = await renderReport({
    ...input,
    params: {
      seeds: [0],
      preprocess: { limit: null },
      train: { epochs: 10, alpha: 0.05 },
    },
  });
  assertEquals(reference.metrics.published.settingDifferences, []);
  assert(!reference.files["report.md"].includes("Not the reference setting"));
  assert(!headline(reference.metrics).includes("other setting"));
});
