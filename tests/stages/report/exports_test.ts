/**
 * The files for a paper (CSV and LaTeX tables, untitled figures), the stage's declared outputs,
 * and what a run without a sweep leaves out.
 */
import { assert, assertEquals, assertStringIncludes } from "../../assert.ts";
import {
  renderReport,
  REPORT_FILES,
  reportFilesFor,
  writeReportFiles,
} from "../../../stages/report/mod.ts";
import { report } from "../../../stages/report_stage.ts";
import type { Params } from "../../../stages/params.ts";
import { latexText, toCsv } from "../../../stages/report/table_formats.ts";
import { makeInput, makeRun, makeSweepInput } from "./fixtures.ts";

const ALPHAS = [0.002, 0.01, 0.1];
const SEEDS = [0, 1, 2];

function sweepInput(validation = 500) {
  return makeSweepInput({
    alphas: ALPHAS,
    seeds: SEEDS,
    validation,
    epochs: 3,
  });
}

/** A minimal RFC 4180 reader: quoted fields with doubled quotes and commas. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.trimEnd().split("\n")) {
    const cells: string[] = [];
    let cell = "";
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const ch = line[i];
      if (quoted) {
        if (ch === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"') quoted = true;
      else if (ch === ",") {
        cells.push(cell);
        cell = "";
      } else cell += ch;
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

Deno.test("CSV tables carry the report's numbers, one column per quantity", async () => {
  const rendered = await renderReport(sweepInput());
  const files = rendered.files;
  const headline = parseCsv(files["tables/headline.csv"]);
  assertEquals(headline[0].slice(0, 4), [
    "model",
    "seeds",
    "test_acc_mean_pct",
    "test_acc_sd_pct",
  ]);
  const width = headline[0].length;
  for (const row of headline) assertEquals(row.length, width, row.join(","));
  const base = rendered.metrics.models[0];
  assertEquals(headline[1][0], "Baseline");
  assertEquals(headline[1][2], (base.testAccuracy.mean * 100).toFixed(2));
  const c = rendered.metrics.comparison!;
  const rdrop = headline.find((r) => r[0].startsWith("R-Drop"))!;
  assertEquals(rdrop[0], `R-Drop (alpha=${rendered.sweep!.selectedAlpha})`);
  assertEquals(
    rdrop[headline[0].indexOf("test_acc_diff_ci95_low_pp")],
    (c.interval!.low * 100).toFixed(2),
  );
  // Every alpha in the per-alpha table, the selected one marked; every training per seed.
  const alpha = parseCsv(files["tables/alpha.csv"]);
  assertEquals(alpha.length, 1 + 1 + ALPHAS.length);
  const selected = alpha[0].indexOf("selected_on_validation");
  assertEquals(
    alpha.filter((r) => r[selected] === "yes").map((r) => Number(r[1])),
    [rendered.sweep!.selectedAlpha],
  );
  const perSeed = parseCsv(files["tables/per_seed.csv"]);
  assertEquals(perSeed.length, 1 + SEEDS.length * (1 + ALPHAS.length));
  assertEquals(perSeed[0], [
    "model",
    "alpha",
    "seed",
    "val_acc_pct",
    "test_acc_pct",
    "test_loss",
  ]);
  // A field with a comma or a quote is quoted.
  assertEquals(
    parseCsv(toCsv(["a", "b"], [['x, "y"', "z"]])),
    [["a", "b"], ['x, "y"', "z"]],
  );
});

Deno.test("LaTeX tables are booktabs tabulars with escaped text and even columns", async () => {
  const files = (await renderReport(sweepInput())).files;
  for (const name of ["headline", "alpha", "per_seed"]) {
    const tex = files[`tables/${name}.tex`];
    const columns = tex.match(/\\begin\{tabular\}\{([lrc]+)\}/)?.[1].length;
    assert(columns !== undefined, `${name}.tex has no tabular`);
    for (const rule of ["\\toprule", "\\midrule", "\\bottomrule"]) {
      assertStringIncludes(tex, rule);
    }
    const rows = tex.split("\n").filter((l) => l.endsWith("\\\\"));
    assert(rows.length > 1, name);
    for (const row of rows) {
      // Unescaped & separate the cells.
      assertEquals(
        row.split(/(?<!\\)&/).length,
        columns,
        `${name}.tex: ${row}`,
      );
      // Plain ASCII: any TeX engine and encoding reads it.
      assert(/^[\x20-\x7e]*$/.test(row), `${name}.tex: ${row}`);
      // No unescaped %: it would comment out the rest of the row.
      assert(!/(?<!\\)%/.test(row), `${name}.tex: ${row}`);
    }
  }
  assertStringIncludes(files["tables/alpha.tex"], "$\\alpha$=0.01");
  assertEquals(latexText("a_b & 5 % − ±"), "a\\_b \\& 5 \\% $-$ $\\pm$");
});

Deno.test("the LaTeX tables compile with pdflatex", async () => {
  const which = (cmd: string, args: string[]) =>
    new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output()
      .then((o) => o.success ? new TextDecoder().decode(o.stdout).trim() : "")
      .catch(() => "");
  if (await which("kpsewhich", ["booktabs.sty"]) === "") {
    console.log(
      "skipped: pdflatex or booktabs.sty is not installed (apt-get install texlive-latex-base texlive-latex-recommended)",
    );
    return;
  }
  const files = (await renderReport(sweepInput())).files;
  const dir = await Deno.makeTempDir();
  try {
    await writeReportFiles(dir, files);
    const doc = [
      "\\documentclass{article}",
      "\\usepackage[utf8]{inputenc}",
      "\\usepackage{booktabs}",
      "\\begin{document}",
      ...["headline", "alpha", "per_seed"].map((t) =>
        `\\begin{table}\\centering\\input{tables/${t}.tex}\\caption{${
          t.replace("_", " ")
        }}\\end{table}`
      ),
      "\\end{document}",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/paper.tex`, doc);
    const out = await new Deno.Command("pdflatex", {
      args: ["-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const log = new TextDecoder().decode(out.stdout);
    assert(out.success, `pdflatex failed:\n${log.slice(-2000)}`);
    assert((await Deno.stat(`${dir}/paper.pdf`)).size > 1000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("untitled figures: the same charts without the in-figure title", async () => {
  const files = (await renderReport(sweepInput())).files;
  for (
    const [titled, untitled, title] of [
      [
        "accuracy.svg",
        "figures/accuracy_notitle.svg",
        "Validation accuracy per epoch",
      ],
      [
        "alpha.svg",
        "figures/alpha_notitle.svg",
        "Validation and test accuracy against alpha",
      ],
      [
        "per_class.svg",
        "figures/per_class_notitle.svg",
        "Per-class test accuracy",
      ],
    ]
  ) {
    assertStringIncludes(files[titled], `>${title}</text>`);
    assert(!files[untitled].includes(`>${title}</text>`), untitled);
    assert(!files[untitled].includes("role-title"), untitled);
    // Still the chart: axis titles and legend are there.
    assertStringIncludes(files[untitled], "role-axis-title");
  }
  const md = files["report.md"];
  assertStringIncludes(md, "## Files for a paper");
  assertStringIncludes(md, "[tables/headline.tex](tables/headline.tex)");
  assertStringIncludes(
    md,
    "[figures/alpha_notitle.svg](figures/alpha_notitle.svg)",
  );
});

Deno.test("without a sweep: no alpha charts or per-alpha table, written or linked", async () => {
  const input = makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]);
  const files = (await renderReport(input)).files;
  const sweepOnly = [
    REPORT_FILES.alpha,
    REPORT_FILES.alphaCurves,
    REPORT_FILES.alphaCsv,
    REPORT_FILES.alphaTex,
    REPORT_FILES.alphaNoTitle,
    REPORT_FILES.alphaCurvesNoTitle,
  ];
  for (const name of sweepOnly) {
    assert(!(name in files), `${name} written without a sweep`);
    assert(!files["report.md"].includes(name), `report.md links ${name}`);
  }
  assertStringIncludes(files["report.md"], "tables/per_seed.csv");
});

Deno.test("the report stage declares every file it writes, for a sweep and without one", async () => {
  const plain = makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]);
  const sweep = sweepInput(0);
  for (const input of [plain, sweep]) {
    const written = Object.keys((await renderReport(input)).files).sort();
    const declared = report.outputsFor!(input.params as Params);
    assertEquals([...declared].sort(), written);
    assertEquals(reportFilesFor(input.params), [...declared]);
    for (const name of written) assert(report.outputs.includes(name), name);
  }
  assertEquals(report.outputs.length, Object.keys(REPORT_FILES).length);
});

Deno.test("writeReportFiles writes into one level of folders and refuses paths that leave", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeReportFiles(dir, { "tables/a.csv": "x\n", "b.md": "y\n" });
    assertEquals(await Deno.readTextFile(`${dir}/tables/a.csv`), "x\n");
    for (
      const bad of ["../a.csv", "/etc/a", "a/../b", "a/b/c.csv", ".hidden"]
    ) {
      let refused = false;
      await writeReportFiles(dir, { [bad]: "z" }).catch(() => refused = true);
      assert(refused, bad);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
