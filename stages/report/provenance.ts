/**
 * The report's provenance header: which commit, command, machine and library versions made it.
 *
 * Gathered when the report stage runs and written into the report, never into a stage key: a
 * key holds only what decides the results (params, code, upstream), so a new commit that
 * changes no stage's code does not rerun anything.
 *
 * @module
 */
import { z } from "zod";
import { cell, table } from "./format.ts";

/** Where and how the report was made. */
export const Provenance = z.object({
  /** HEAD's commit id, or null when unknown (`dirty.detail` says why). */
  commit: z.string().nullable(),
  branch: z.string().nullable(),
  /** Whether tracked files differed from the commit, and what exactly was checked. */
  dirty: z.object({
    state: z.enum(["clean", "dirty", "unknown"]),
    detail: z.string(),
  }),
  /** The command line, shell-quoted. */
  command: z.string(),
  machine: z.object({
    /** CPU model name, or null when it could not be read. */
    cpu: z.string().nullable(),
    /** Logical cores. */
    cores: z.number().int().positive().nullable(),
    /** Total memory in bytes, or null when it could not be read. */
    memoryBytes: z.number().nonnegative().nullable(),
    /** `linux x86_64`, with the kernel release when readable. */
    os: z.string(),
    /** The WebGPU adapters training used; empty when none did. */
    gpuAdapters: z.array(z.string()),
  }),
  versions: z.object({
    deno: z.string(),
    tfjs: z.string(),
    /** The BLAS library runs trained with (e.g. `OpenBLAS 0.3.21, Haswell kernels`); empty if none. */
    blas: z.array(z.string()),
  }),
  /** What could not be read and how to let it be read (e.g. a permission flag). */
  missing: z.array(z.string()),
});
/** Where and how the report was made. */
export type Provenance = z.infer<typeof Provenance>;

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** The provenance table that opens the report. */
export function provenanceSection(
  p: Provenance,
  generatedAt: string,
): string {
  const commit = p.commit === null
    ? "unknown"
    : `\`${p.commit.slice(0, 12)}\`${p.branch ? ` (${p.branch})` : ""}`;
  const machine = [
    p.machine.cpu ?? "CPU model unknown",
    p.machine.cores === null ? null : `${p.machine.cores} cores`,
    p.machine.memoryBytes === null
      ? null
      : `${gib(p.machine.memoryBytes)} memory`,
    p.machine.os,
  ].filter((part) => part !== null).join(", ");
  const rows = [
    ["Commit", `${commit}, ${p.dirty.state}: ${p.dirty.detail}`],
    ["Command", `\`${p.command.replaceAll("`", "'")}\``],
    ["Date", generatedAt],
    ["Machine", machine],
    [
      "GPU adapter",
      p.machine.gpuAdapters.length === 0
        ? "none"
        : p.machine.gpuAdapters.join("; "),
    ],
    [
      "Versions",
      `Deno ${p.versions.deno}, TensorFlow.js ${p.versions.tfjs}, BLAS ${
        p.versions.blas.length === 0 ? "none" : p.versions.blas.join("; ")
      }`,
    ],
  ];
  const lines = [
    "## How this report was made",
    "",
    table(["What", "Value"], rows.map(([k, v]) => [k, cell(v)]), "ll"),
    "",
    "The commit is the one checked out when this report was rendered; stages taken from the " +
    "cache (see Pipeline) ran earlier, with code of the same hash.",
  ];
  if (p.missing.length > 0) {
    lines.push("", ...p.missing.map((m) => `- Not recorded: ${m}.`));
  }
  return lines.join("\n");
}
