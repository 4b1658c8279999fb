/**
 * `deno task bench --edits`: what each kind of code edit reruns. In a scratch copy with a full
 * cache of a tiny sweep, a fixed list of edits is applied one at a time, the real
 * `deno task pipeline` (the task's flags from deno.json) is run after each, and the instances it
 * ran are counted; then the edit is reverted and the cache brought back to fresh. The same list
 * runs on an older commit's code (`--edits-base`, default the last commit before precise keys),
 * so the table compares that code's keys with this one's.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { ROOT, runTask, scratchProject } from "./scratch_project.ts";

/** The tiny sweep both codes run: 2 seeds x (baseline + 2 alphas), 1 epoch on 1000 examples. */
export const EDIT_SWEEP = [
  "--set",
  "preprocess.limit=1000",
  "--set",
  "train.epochs=1",
  "--set",
  "train.hidden=[64]",
  "--set",
  "seeds=[0,1]",
  "--set",
  "matrix.train.alpha=[0.01,0.05]",
] as const;

/** One edit of the list: what it changes and what should rerun. */
export interface EditCase {
  /** What the edit is, as the table says it. */
  name: string;
  /** What should rerun (the target), in words. */
  target: string;
  /** Stages (declaration names) that may rerun; any other that reruns misses the target. */
  allowed: readonly string[];
  /** Candidate paths of the file to edit (root-relative), the first that exists is used. */
  files: readonly string[];
  /** The edit, from the file's content; throws when it does not apply. */
  edit(text: string, file: string): string | Promise<string>;
}

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`edit does not apply: ${from}`);
  return text.replace(from, to);
}

async function reformat(text: string, file: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bench_fmt_" });
  try {
    const copy = join(dir, file.replaceAll("/", "_"));
    await Deno.writeTextFile(copy, text);
    const fmt = await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--line-width", "60", "--indent-width", "4", copy],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!fmt.success) throw new Error(new TextDecoder().decode(fmt.stderr));
    return await Deno.readTextFile(copy);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const TRAINING = ["train_baseline", "train_rdrop"];

/** The list of edits (issue 17), each with its target. */
export const EDITS: readonly EditCase[] = [
  {
    name: "a comment in models/mlp.ts",
    target: "nothing",
    allowed: [],
    files: ["models/mlp.ts"],
    edit: (t) => `${t}\n// a comment about the MLP\n`,
  },
  {
    name: "deno fmt reformatting of models/trainer.ts (line width 60)",
    target: "nothing",
    allowed: [],
    files: ["models/trainer.ts"],
    edit: reformat,
  },
  {
    name: "a type-only change (an exported type in models/step.ts)",
    target: "nothing",
    allowed: [],
    files: ["models/step.ts"],
    edit: (t) => `${t}\nexport type StepProbe = { readonly steps: number };\n`,
  },
  {
    name: "a comment in the WebGPU kernels",
    target: "nothing (the trainings are native)",
    allowed: [],
    files: ["models/webgpu/kernels.ts"],
    edit: (t) => `${t}\n// a comment about a kernel\n`,
  },
  {
    name: "a behaviour change in the WebGPU kernels",
    target: "nothing (the trainings are native)",
    allowed: [],
    files: ["models/webgpu/kernels.ts"],
    edit: (t) => `${t}\nexport const kernelProbe = 1;\n`,
  },
  {
    name: "a change in the report's charts",
    target: "the report only",
    allowed: ["report"],
    files: [
      "report/charts.ts",
      "report/charts/mod.ts",
      "stages/report/charts.ts",
    ],
    edit: (t) => `${t}\nexport const chartProbe = 1;\n`,
  },
  {
    name: "a real change to the R-Drop loss (KL weight x 0.5)",
    target: "R-Drop trainings, their evaluations and the report",
    allowed: ["train_rdrop", "evaluate_rdrop", "report"],
    files: ["models/loss_head.ts"],
    edit: (t) => replaceOnce(t, "options.alpha * 0.5", "options.alpha * 0.25"),
  },
  {
    name: "a behaviour-neutral change in data/fetch.ts",
    target:
      "download only (its outputs are the same: preprocess does not rerun)",
    allowed: ["download"],
    files: ["data/fetch.ts"],
    edit: (t) => `${t}\nexport const fetchProbe = 1;\n`,
  },
];

/** What one edit reran. */
export interface EditOutcome {
  /** The edit. */
  edit: string;
  /** The file edited. */
  file: string;
  /** Instances that ran, by stage (declaration name). */
  ran: Record<string, number>;
  /** Trainings among them. */
  trainings: number;
  /** Whether only allowed stages ran. */
  onTarget: boolean;
  /** Seconds of the run after the edit. */
  seconds: number;
}

/** Instance names from a run's `ran  NAME  1.2s` lines. */
export function ranInstances(out: string): string[] {
  return [...out.matchAll(/^ran +(\S+)/gm)].map((m) => m[1]);
}

function byStage(names: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of names) {
    const stage = name.split("@")[0];
    out[stage] = (out[stage] ?? 0) + 1;
  }
  return out;
}

async function firstExisting(
  dir: string,
  files: readonly string[],
): Promise<string | undefined> {
  for (const file of files) {
    try {
      await Deno.stat(join(dir, file));
      return file;
    } catch {
      // try the next candidate
    }
  }
  return undefined;
}

/** A scratch copy of `ref`'s tracked files (git archive) with node_modules hard-linked in. */
async function scratchAt(ref: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "bench_edits_base_" });
  const archive = new Deno.Command("sh", {
    args: ["-c", `git -C "${ROOT}" archive "${ref}" | tar -x -C "${dir}"`],
  });
  const done = await archive.output();
  if (!done.success) {
    throw new Error(
      `git archive ${ref}: ${new TextDecoder().decode(done.stderr)}`,
    );
  }
  const link = await new Deno.Command("cp", {
    args: ["-al", join(ROOT, "node_modules"), join(dir, "node_modules")],
  }).output();
  if (!link.success) throw new Error("linking node_modules failed");
  return dir;
}

/** Runs the edit list in `dir` (a project with a full cache of {@link EDIT_SWEEP}). */
async function runEdits(
  dir: string,
  log: (line: string) => void,
): Promise<EditOutcome[]> {
  const sweep = (extra: string[] = []) =>
    runTask(dir, "pipeline", [...EDIT_SWEEP, ...extra]);
  const fill = await sweep();
  if (fill.code !== 0) throw new Error(`the tiny sweep failed:\n${fill.out}`);
  const outcomes: EditOutcome[] = [];
  for (const edit of EDITS) {
    const file = await firstExisting(dir, edit.files);
    if (file === undefined) {
      log(`  ${edit.name}: no such file here (${edit.files.join(", ")})`);
      continue;
    }
    const path = join(dir, file);
    const original = await Deno.readTextFile(path);
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.writeTextFile(path, await edit.edit(original, file));
    const started = performance.now();
    const after = await sweep();
    const seconds = (performance.now() - started) / 1000;
    await Deno.writeTextFile(path, original);
    if (after.code !== 0) {
      throw new Error(`${edit.name}: run failed\n${after.out}`);
    }
    const ran = byStage(ranInstances(after.out));
    const outcome: EditOutcome = {
      edit: edit.name,
      file,
      ran,
      trainings: TRAINING.reduce((n, stage) => n + (ran[stage] ?? 0), 0),
      onTarget: Object.keys(ran).every((stage) => edit.allowed.includes(stage)),
      seconds,
    };
    outcomes.push(outcome);
    log(`  ${edit.name}: ${describeRan(ran)} (${seconds.toFixed(1)} s)`);
    // Back to a fresh checkout of the original code (restored from the cache, not counted).
    const back = await sweep();
    if (back.code !== 0) throw new Error(`reverting ${edit.name} failed`);
  }
  return outcomes;
}

/** `6 train_rdrop, 6 evaluate_rdrop, 1 report` or `nothing`. */
export function describeRan(ran: Record<string, number>): string {
  const parts = Object.entries(ran).map(([stage, n]) => `${n} ${stage}`);
  return parts.length === 0 ? "nothing" : parts.join(", ");
}

/** Both codes' outcomes for the edit list. */
export interface EditBench {
  /** The older commit compared with. */
  base: string;
  /** Its outcomes. */
  before: EditOutcome[];
  /** This tree's outcomes. */
  after: EditOutcome[];
}

/** Runs the edit list on `base`'s code and on this work tree's, each in a scratch copy. */
export async function benchEdits(
  options: { base: string; log: (line: string) => void },
): Promise<EditBench> {
  const { base, log } = options;
  const old = await scratchAt(base);
  const current = await scratchProject("bench_edits_");
  try {
    log(`edits on ${base} (the keys before this code):`);
    const before = await runEdits(old, log);
    log("edits on this work tree:");
    const after = await runEdits(current, log);
    return { base, before, after };
  } finally {
    await Deno.remove(old, { recursive: true });
    await Deno.remove(current, { recursive: true });
  }
}

/** The markdown table of {@link benchEdits}' result. */
export function editTable(result: EditBench): string {
  const lines = [
    `| edit | target | ${result.base} reruns | this code reruns | on target |`,
    "| --- | --- | --- | --- | --- |",
  ];
  for (const edit of EDITS) {
    const before = result.before.find((o) => o.edit === edit.name);
    const after = result.after.find((o) => o.edit === edit.name);
    lines.push(
      `| ${edit.name} | ${edit.target} | ${
        before ? describeRan(before.ran) : "(n/a)"
      } | ${after ? describeRan(after.ran) : "(n/a)"} | ${
        after?.onTarget ? "yes" : "no"
      } |`,
    );
  }
  return lines.join("\n");
}
