/** The report's header and Pipeline section: counts that add up, the long parts folded. */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "../../assert.ts";
import { renderReport } from "../../../stages/report/mod.ts";
import { summarizeStages } from "../../../stages/report/pipeline_markdown.ts";
import { trainingsLine } from "../../../stages/report/trainings.ts";
import { makeInput, makeRun, makeSweepInput } from "./fixtures.ts";

const ALPHAS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1];
const SEEDS = [0, 1, 2, 3, 4];

Deno.test("the header counts every training of a sweep, not the selected alpha's", async () => {
  const input = makeSweepInput({
    alphas: ALPHAS,
    seeds: SEEDS,
    validation: 500,
    epochs: 2,
  });
  const md = (await renderReport(input)).files["report.md"];
  const header = md.split("\n")[2];
  assertStringIncludes(
    header,
    "35 trainings: 6 alphas + baseline × 5 seeds (0, 1, 2, 3, 4).",
  );
  assert(!header.includes("10 runs"), header);
});

Deno.test("the header of a run without a sweep, and of groups that ran other seeds", () => {
  assertEquals(
    trainingsLine([makeRun("baseline", 0), makeRun("rdrop", 0)]),
    "2 trainings: baseline + R-Drop α=0.05 × 1 seed (0)",
  );
  assertEquals(
    trainingsLine([0, 1, 2].map((s) => makeRun("baseline", s))),
    "3 trainings: baseline × 3 seeds (0, 1, 2)",
  );
  assertEquals(
    trainingsLine([
      makeRun("baseline", 0),
      makeRun("baseline", 1),
      makeRun("rdrop", 0, { alpha: 0.1 }),
    ]),
    "3 trainings: baseline × 2 seeds (0, 1); R-Drop α=0.1 × 1 seed (0)",
  );
});

Deno.test("Pipeline: one row per stage in DAG order, the DAG and instance times collapsed", async () => {
  const input = makeSweepInput({
    alphas: ALPHAS,
    seeds: SEEDS,
    validation: 0,
    epochs: 2,
  });
  const md = (await renderReport(input)).files["report.md"];
  const section = md.slice(md.indexOf("## Pipeline"), md.indexOf("## Params"));
  const open = section.indexOf("<details>");
  assert(open > 0, "the instance details are not collapsed");
  const visible = section.slice(0, open);
  const folded = section.slice(open, section.indexOf("</details>"));
  // Visible: the stage-level DAG and summary, no instance; folded: all 72 instances.
  assert(!visible.includes("@"), visible);
  assertStringIncludes(visible, 'train_rdrop["train_rdrop ×30"]');
  assertStringIncludes(visible, "| train_rdrop | 30 | 30 | 0 |");
  const stageRows = visible.split("\n").filter((l) =>
    /^\| [a-z_]+ \| \d+ \|/.test(l)
  );
  assertEquals(stageRows.map((l) => l.split(" | ")[0].slice(2)), [
    "download",
    "preprocess",
    "train_baseline",
    "train_rdrop",
    "evaluate_baseline",
    "evaluate_rdrop",
  ]);
  assertStringIncludes(folded, "```mermaid");
  assertEquals(
    folded.split("\n").filter((l) =>
      /^\| [a-z_]+(@\S+)? \| [\d.]+ s \|/.test(l)
    )
      .length,
    72,
  );
  // The summary's numbers: median and total over the instances.
  const summary = summarizeStages(input.stages, input.mermaid);
  const evaluate = summary.find((s) => s.stage === "evaluate_rdrop")!;
  const times = input.stages.filter((s) => s.name.startsWith("evaluate_rdrop@"))
    .map((s) => s.seconds).sort((a, b) => a - b);
  assertEquals(evaluate.instances, 30);
  assertEquals(evaluate.medianSeconds, (times[14] + times[15]) / 2);
  assertAlmostEquals(
    evaluate.totalSeconds,
    times.reduce((a, b) => a + b, 0),
    1e-9,
  );
});

Deno.test("a small run's Pipeline section folds too", async () => {
  const md = (await renderReport(makeInput([makeRun("baseline", 0)])))
    .files["report.md"];
  assertStringIncludes(md, "| train_baseline | 1 | 1 | 0 | 31.5 s | 31.5 s |");
  assertStringIncludes(md, "| train_baseline@0 | 31.5 s | ran |");
});
