/**
 * The lines printed after a run: accuracies, the difference and what it means. Apart from the
 * renderer so that printing them does not load vega.
 *
 * @module
 */
import { pct, pp } from "./format.ts";
import type { Metrics } from "./metrics.ts";
import type { SweepMetrics } from "./sweep.ts";
import { verdictLines } from "./sweep_markdown.ts";

/** Terminal lines of a sweep: the selected alpha and the three verdicts. */
export function sweepHeadline(sweep: SweepMetrics): string {
  return [
    `Sweep: ${sweep.rows.length} alphas, selected alpha ${sweep.selectedAlpha} on ${sweep.selectedBy}`,
    ...verdictLines(sweep),
  ].join("\n");
}

/**
 * Two or three lines for the terminal after a run: the accuracies, the difference and
 * what it means, and a warning when the runs mix settings.
 */
export function headline(metrics: Metrics): string {
  const parts = metrics.models.map((m) => {
    const name = m.model === "rdrop" ? "R-Drop" : "baseline";
    const acc = m.testAccuracy.std === null
      ? pct(m.testAccuracy.mean)
      : `${(m.testAccuracy.mean * 100).toFixed(2)} ± ${
        (m.testAccuracy.std * 100).toFixed(2)
      } %`;
    return `${name} ${acc}`;
  });
  const c = metrics.comparison;
  const other = metrics.published.settingDifferences.length > 0
    ? ", other setting"
    : "";
  const published = `published ${pp(metrics.published.difference)}${other}`;
  if (c) parts.push(`R-Drop − baseline ${pp(c.meanDifference)} (${published})`);
  const lines = [`Test accuracy: ${parts.join(" · ")}`];
  if (c?.interval) {
    const what = {
      helped: "R-Drop helped",
      hurt: "R-Drop hurt",
      unclear: "no clear difference",
      "single-run": "",
    }[c.verdict];
    lines.push(
      `${c.pairedSeeds.length} seeds, 95 % paired t-interval [${
        pp(c.interval.low)
      }, ` +
        `${pp(c.interval.high)}]: ${what}`,
    );
  } else if (c) {
    lines.push(
      "1 seed: a single run cannot show significance (try --set 'seeds=[0,1,2,3,4]')",
    );
  }
  if (metrics.warnings.length > 0) {
    lines.push(
      `Warning: the runs differ in more than the seed (${metrics.warnings.length} ` +
        "difference(s)); see the report's warning box.",
    );
  }
  return lines.join("\n");
}
