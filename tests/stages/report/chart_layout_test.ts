/**
 * The rendered charts, read back from their SVG: no blank strip on the right, validation and
 * test apart, a baseline that looks like no alpha, intervals where there are several seeds.
 */
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertStringIncludes,
} from "../../assert.ts";
import { renderReport } from "../../../stages/report/mod.ts";
import {
  alphaColors,
  alphaCurvesSpec,
  BASELINE_COLOR,
} from "../../../stages/report/sweep_charts.ts";
import { computeSweep } from "../../../stages/report/sweep.ts";
import { textWidth } from "../../../stages/report/text_width.ts";
import {
  DEJAVU_SANS,
  DEJAVU_SANS_BOLD,
} from "../../../stages/report/fonts/dejavu_widths.ts";
import {
  DEJAVU_DIR,
  DEJAVU_FILES,
  readAdvanceWidths,
} from "../../../stages/report/fonts/build.ts";
import { makeInput, makeRun, makeSweepInput } from "./fixtures.ts";

const ALPHAS = [0.002, 0.005, 0.01, 0.02, 0.05, 0.1];

/** The svg's width and the rightmost point anything is drawn at (text by its font's widths). */
function rightEdge(svg: string): { width: number; right: number } {
  const width = Number(svg.match(/^<svg[^>]* width="([\d.]+)"/)?.[1]);
  const stack: number[] = [0];
  let right = 0;
  let text: {
    x: number;
    anchor: string;
    size: number;
    bold: boolean;
    rotated: boolean;
  } | null = null;
  let lines: string[] = [];
  const tags = svg.matchAll(/<(\/?)([a-z]+)([^>]*?)(\/?)>|([^<]+)/g);
  for (const [, close, name, attrs, selfClose, content] of tags) {
    if (content !== undefined) {
      if (text !== null) lines.push(content);
      continue;
    }
    if (close) {
      if (name === "text" && text !== null) {
        const w = Math.max(
          0,
          ...lines.map((l) =>
            textWidth(l, { fontSize: text!.size, bold: text!.bold })
          ),
        );
        const shift = text.rotated
          ? text.size
          : text.anchor === "middle"
          ? w / 2
          : text.anchor === "end"
          ? 0
          : w;
        right = Math.max(right, text.x + shift);
        text = null;
        lines = [];
      }
      if (name === "g" || name === "text") stack.pop();
      continue;
    }
    const t = attrs.match(/transform="translate\(([-\d.]+),[-\d.]+\)/);
    const x = stack.at(-1)! + (t ? Number(t[1]) : 0);
    if (name === "path" && /class="background"/.test(attrs)) {
      const h = attrs.match(/d="M([-\d.]+),[-\d.]+h([\d.]+)/);
      if (h) right = Math.max(right, x + Number(h[1]) + Number(h[2]));
    }
    if (name === "text") {
      text = {
        x,
        anchor: attrs.match(/text-anchor="(\w+)"/)?.[1] ?? "start",
        size: Number(attrs.match(/font-size="([\d.]+)px"/)?.[1] ?? 11),
        bold: /font-weight="bold"/.test(attrs),
        rotated: /rotate\(/.test(attrs),
      };
    }
    if ((name === "g" || name === "text") && !selfClose) stack.push(x);
  }
  return { width, right };
}

async function sweepFiles(validation: number, seeds = [0, 1, 2, 3, 4]) {
  return (await renderReport(
    makeSweepInput({ alphas: ALPHAS, seeds, validation, epochs: 4 }),
  )).files;
}

Deno.test("no chart has a blank strip on the right: the SVG ends where its widest part does", async () => {
  const files = await sweepFiles(500);
  for (const name of Object.keys(files).filter((f) => f.endsWith(".svg"))) {
    const { width, right } = rightEdge(files[name]);
    assert(
      right > 0.5 * width,
      `${name}: parsed nothing (right edge ${right})`,
    );
    // vega pads 5 px on each side; allow a few pixels of rounding.
    assert(
      width - right <= 12,
      `${name}: ${
        (width - right).toFixed(0)
      } px of ${width} blank on the right`,
    );
  }
});

Deno.test("the text widths are DejaVu Sans's advance widths", async () => {
  assertAlmostEquals(textWidth("m", { fontSize: 10 }), 9.74, 0.01);
  assert(
    textWidth("Shirt", { fontSize: 11, bold: true }) >
      textWidth("Shirt", { fontSize: 11 }),
  );
  const path = `${DEJAVU_DIR}/${DEJAVU_FILES.regular}`;
  const installed = await Deno.stat(path).then(() => true, () => false);
  if (!installed) {
    console.log(
      `skipped the comparison with the font file: ${path} is absent (apt-get install fonts-dejavu-core)`,
    );
    return;
  }
  assertEquals(await readAdvanceWidths(path), { ...DEJAVU_SANS });
  assertEquals(
    await readAdvanceWidths(`${DEJAVU_DIR}/${DEJAVU_FILES.bold}`),
    { ...DEJAVU_SANS_BOLD },
  );
});

/** x positions of a colour's vertical interval rules (the dashed baseline lines are horizontal). */
function intervalsOf(svg: string, color: string): number[] {
  return [
    ...svg.matchAll(
      new RegExp(
        `<line[^>]*transform="translate\\(([-\\d.]+),[-\\d.]+\\)" x2="0"[^>]*stroke="${color}"`,
        "g",
      ),
    ),
  ].map((m) => Number(m[1]));
}

Deno.test("alpha.svg: validation and test sit side by side within each alpha, never on one x", async () => {
  const svg = (await sweepFiles(500))["alpha.svg"];
  const test = intervalsOf(svg, "#e45756");
  const validation = intervalsOf(svg, "#54a24b");
  // The baseline and six alphas, each with one interval per split.
  assertEquals(test.length, 7);
  assertEquals(validation.length, 7);
  for (let i = 0; i < 7; i++) {
    assert(
      test[i] - validation[i] >= 8,
      `group ${i}: validation at ${validation[i]}, test at ${test[i]}`,
    );
    if (i > 0) assert(validation[i] > test[i - 1], "groups overlap");
  }
  assertStringIncludes(svg, "baseline");
  // Without a validation split there is one split and no validation legend entry.
  const plain = (await sweepFiles(0))["alpha.svg"];
  assert(
    !plain.includes(">validation<"),
    "a validation legend entry without validation runs",
  );
  assertEquals(intervalsOf(plain, "#54a24b").length, 0);
  assertStringIncludes(plain, "Test accuracy against alpha");
});

function rgb(hex: string): number[] {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

Deno.test("alpha_curves: the baseline is black and dashed, unlike every alpha; bands with several seeds", async () => {
  const input = makeSweepInput({
    alphas: ALPHAS,
    seeds: [0, 1, 2],
    validation: 500,
    epochs: 3,
  });
  const runs = input.runs as Parameters<typeof computeSweep>[0];
  const spec = alphaCurvesSpec(runs, computeSweep(runs)!);
  const layers = spec.layer as Array<
    {
      mark: { type: string };
      encoding: Record<
        string,
        { scale?: { domain: unknown[]; range: unknown[] } }
      >;
    }
  >;
  assertEquals(layers.map((l) => l.mark.type), ["area", "line"]);
  const scale = layers[1].encoding.color.scale!;
  assertEquals(scale.domain[0], "baseline");
  assertEquals(scale.range[0], BASELINE_COLOR);
  for (const color of scale.range.slice(1) as string[]) {
    const distance = Math.hypot(
      ...rgb(color).map((c, i) => c - rgb(BASELINE_COLOR)[i]),
    );
    assert(
      distance > 120,
      `${color} is too close to the baseline's ${BASELINE_COLOR}`,
    );
  }
  // Neighbouring alphas are told apart too.
  const colors = alphaColors(ALPHAS.length);
  assertEquals(new Set(colors).size, ALPHAS.length);
  assertEquals(layers[1].encoding.strokeDash.scale!.range, [[1, 0], [6, 3]]);
  const svg = (await renderReport(input)).files["alpha_curves.svg"];
  assertStringIncludes(svg, `stroke="${BASELINE_COLOR}"`);
  assertStringIncludes(svg, 'stroke-dasharray="6,3"');
  // One seed: no band.
  const one = makeSweepInput({
    alphas: ALPHAS,
    seeds: [0],
    validation: 500,
    epochs: 3,
  });
  const oneRuns = one.runs as Parameters<typeof computeSweep>[0];
  const oneSpec = alphaCurvesSpec(oneRuns, computeSweep(oneRuns)!);
  assertEquals(
    (oneSpec.layer as Array<{ mark: { type: string } }>).map((l) =>
      l.mark.type
    ),
    ["line"],
  );
});

Deno.test("per-class chart: intervals with several seeds, none with one", async () => {
  const several = await renderReport(
    makeInput(
      [0, 1, 2].flatMap((s) => [makeRun("baseline", s), makeRun("rdrop", s)]),
    ),
  );
  const one = await renderReport(
    makeInput([makeRun("baseline", 0), makeRun("rdrop", 0)]),
  );
  const rules = (svg: string) =>
    (svg.match(/class="mark-rule role-mark/g) ?? []).length;
  assertEquals(rules(several.files["per_class.svg"]), 1);
  assertStringIncludes(several.files["per_class.svg"], "95 % t-interval");
  assertEquals(rules(one.files["per_class.svg"]), 0);
  // The learning curves draw the interval as a band.
  const areas = (svg: string) =>
    (svg.match(/class="mark-area role-mark/g) ?? []).length;
  assert(areas(several.files["accuracy.svg"]) > 0);
  assertEquals(areas(one.files["accuracy.svg"]), 0);
});
