/**
 * Every accuracy the report prints names the split it was measured on, and names it right.
 *
 * The fixture keeps the splits apart by value: test accuracies lie between 40 % and 75 %
 * (the published reference figures, 84–86 %, are test accuracies too), validation accuracies
 * above 88 %. So a number's split is known from the number alone, and the test can check
 * what the text around it claims.
 */
import { assert, assertEquals } from "../../assert.ts";
import { renderReport, type ReportRun } from "../../../stages/report/mod.ts";
import { correctFor, makeInput, makeRun } from "./fixtures.ts";

type Split = "test" | "validation";

const SEEDS = [0, 1, 2];
const ALPHAS = [0.01, 0.1];

function runs(validation: boolean): ReportRun[] {
  const v = (accuracy: number) =>
    validation ? { validation: { examples: 500, accuracy } } : {};
  return [
    ...SEEDS.map((s) =>
      makeRun("baseline", s, {
        correct: correctFor(600 + s),
        ...v(0.9 + s / 1000),
      })
    ),
    ...ALPHAS.flatMap((alpha, a) =>
      SEEDS.map((s) =>
        makeRun("rdrop", s, {
          alpha,
          correct: correctFor(620 + 10 * a + s),
          ...v(0.93 + a / 100 + s / 1000),
        })
      )
    ),
  ];
}

async function render(options: { validation: boolean; sweep: boolean }) {
  const all = runs(options.validation);
  const input = makeInput(
    options.sweep
      ? all
      : all.filter((r) => r.model === "baseline" || r.history.alpha === 0.1),
  );
  input.params = {
    ...(input.params as object),
    train: { epochs: 3, alpha: 0.1 },
    preprocess: { validation: options.validation ? 500 : 0 },
    ...(options.sweep ? { matrix: { train: { alpha: ALPHAS } } } : {}),
  };
  return (await renderReport(input)).files;
}

/** The split a printed accuracy belongs to, from its value (see the module comment). */
function splitOfValue(percent: number): Split {
  return percent >= 88 ? "validation" : "test";
}

/** The last split the text names ("val accuracy" counts), or null when it names none. */
function lastSplitNamed(text: string): Split | null {
  const words = [...text.matchAll(/\b(test|validation|val)\b/gi)];
  const last = words.at(-1)?.[1].toLowerCase();
  return last === undefined ? null : last === "test" ? "test" : "validation";
}

/** "86.54 %" or "86.54 ± 0.48 %": an accuracy (integers such as "95 %" are levels). */
const ACCURACY = /(\d+\.\d+)(?: ± \d+\.\d+)? ?%/g;

interface Printed {
  value: number;
  /** What the reader sees as this number's label. */
  context: string;
  where: string;
}

function splitCells(line: string): string[] {
  return line.trim().replace(/^\||\|$/g, "").split(/(?<!\\)\|/).map((c) =>
    c.trim()
  );
}

/**
 * Every accuracy in a markdown text with its label: in a table, the column header, the row's
 * first cell and the text before the number in its cell; elsewhere, the sentence up to it.
 */
function markdownAccuracies(md: string): Printed[] {
  const out: Printed[] = [];
  const lines = md.split("\n");
  let header: string[] | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("|")) {
      if (header === null) {
        header = splitCells(line);
        continue;
      }
      if (/^\|\s*-/.test(line)) continue;
      const cells = splitCells(line);
      cells.forEach((cell, col) => {
        for (const m of cell.matchAll(ACCURACY)) {
          out.push({
            value: Number(m[1]),
            context: `${header![col]} ${cells[0]} ${cell.slice(0, m.index)}`,
            where: `line ${i + 1}: ${line}`,
          });
        }
      });
      continue;
    }
    header = null;
    for (const m of line.matchAll(ACCURACY)) {
      const before = line.slice(0, m.index);
      const sentence = before.split(/\.\s+(?=[A-Z*])/).at(-1) ?? before;
      out.push({
        value: Number(m[1]),
        context: sentence,
        where: `line ${i + 1}: ${line}`,
      });
    }
  }
  return out;
}

/** Every accuracy in a CSV file, labelled by its column header and the row's first cells. */
function csvAccuracies(csv: string, name: string): Printed[] {
  const [head, ...rows] = csv.trim().split("\n").map((l) => l.split(","));
  const out: Printed[] = [];
  for (const row of rows) {
    row.forEach((cell, col) => {
      // An accuracy column (not its sd): test_acc_mean_pct, val_acc_pct.
      if (
        /acc.*_pct$/.test(head[col]) && !/_sd_/.test(head[col]) && cell !== ""
      ) {
        out.push({
          value: Number(cell),
          context: head[col].replace(/_/g, " "),
          where: `${name}: ${row.join(",")}`,
        });
      }
    });
  }
  return out;
}

function assertNamed(printed: Printed[]) {
  assert(printed.length > 0, "no accuracy found: the parser no longer matches");
  for (const p of printed) {
    const named = lastSplitNamed(p.context);
    const actual = splitOfValue(p.value);
    assert(
      named === actual,
      `${p.value} % is a ${actual} accuracy but is labelled ${
        named ?? "with no split"
      } ("${p.context}") at ${p.where}`,
    );
  }
}

for (const validation of [true, false]) {
  for (const sweep of [true, false]) {
    const setting = `${validation ? "with" : "without"} a validation split, ${
      sweep ? "a sweep" : "one alpha"
    }`;
    Deno.test(`every accuracy the report prints names its split (${setting})`, async () => {
      const files = await render({ validation, sweep });
      const md = files["report.md"];
      assertNamed(markdownAccuracies(md));
      // The charts' alt texts name the split their accuracy is on.
      for (const [, alt, file] of md.matchAll(/!\[([^\]]*)\]\(([^)]+)\)/g)) {
        if (!/accuracy/i.test(alt)) continue;
        const named = lastSplitNamed(alt);
        assert(named !== null, `alt text "${alt}" of ${file} names no split`);
        if (file === "accuracy.svg" || file === "alpha_curves.svg") {
          assertEquals(named, validation ? "validation" : "test", alt);
        }
      }
      const curves = files["accuracy.svg"];
      assert(
        curves.includes(validation ? "Validation accuracy" : "Test accuracy"),
      );
      assert(
        !curves.includes(validation ? "Test accuracy" : "Validation accuracy"),
      );
      for (const [name, text] of Object.entries(files)) {
        if (name.endsWith(".csv")) assertNamed(csvAccuracies(text, name));
      }
    });
  }
}
