/**
 * Gathers the report's provenance when the report stage runs: commit (from `.git`, read as
 * files), command line, machine and versions. Each fact needs only what the pipeline task
 * already grants or nothing; one that cannot be read is recorded as missing with the flag that
 * would allow it, and never prompts.
 *
 * @module
 */
import os from "node:os";
import type { Provenance } from "./report/provenance.ts";
import { readGitState } from "./git_state.ts";
import { shellQuote } from "../pipeline/mod.ts";

/** What a training run recorded about its environment (run.json, loosely). */
export interface RunEnvironment {
  /** WebGPU adapter used, or null. */
  adapter: string | null;
  /** TensorFlow.js version. */
  tfjs: string;
  /** The BLAS library of a native run (run.json's optional `blas`). */
  blas?: unknown;
}

/** Options of {@link collectProvenance}. */
export interface ProvenanceOptions {
  /** The command's arguments (default `Deno.args`). */
  args?: readonly string[];
  /** Root-relative paths the pipeline writes itself (not counted as dirty). */
  generated?: readonly string[];
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

// node:os reads the model under --allow-sys=cpus; Deno refuses /proc/cpuinfo short of -A.
function cpuModel(missing: string[]): string | null {
  if (!granted({ name: "sys", kind: "cpus" })) {
    missing.push("CPU model (needs --allow-sys=cpus)");
    return null;
  }
  try {
    return os.cpus()[0]?.model?.trim() || null;
  } catch {
    missing.push("CPU model (not reported by the system)");
    return null;
  }
}

function memoryBytes(missing: string[]): number | null {
  if (!granted({ name: "sys", kind: "systemMemoryInfo" })) {
    missing.push("memory size (needs --allow-sys=systemMemoryInfo)");
    return null;
  }
  return Deno.systemMemoryInfo().total;
}

function osName(): string {
  const base = `${Deno.build.os} ${Deno.build.arch}`;
  if (!granted({ name: "sys", kind: "osRelease" })) return base;
  return `${base} (kernel ${Deno.osRelease()})`;
}

/** `OpenBLAS 0.3.21, Haswell kernels, 2 threads` from run.json's `blas`, if it has one. */
export function describeBlas(blas: unknown): string | null {
  if (blas === null || typeof blas !== "object") return null;
  const b = blas as Record<string, unknown>;
  const parts = [
    `OpenBLAS ${
      typeof b.version === "string" ? b.version : "(version unknown)"
    }`,
  ];
  if (typeof b.coreName === "string") parts.push(`${b.coreName} kernels`);
  if (typeof b.threads === "number") {
    parts.push(`${b.threads} thread${b.threads === 1 ? "" : "s"}`);
  }
  return parts.join(", ");
}

/** Collects the provenance of a report made now from `runs`, in the project at `root`. */
export async function collectProvenance(
  root: string,
  runs: readonly RunEnvironment[],
  options: ProvenanceOptions = {},
): Promise<Provenance> {
  const missing: string[] = [];
  const git = await readGitState(root, { ignore: options.generated ?? [] });
  const args = options.args ?? Deno.args;
  const distinct = (values: (string | null)[]) =>
    [...new Set(values.filter((v): v is string => v !== null))].sort();
  return {
    commit: git.commit,
    branch: git.branch,
    dirty: git.dirty,
    command: ["deno", "task", "pipeline", ...args].map(shellQuote).join(" "),
    machine: {
      cpu: cpuModel(missing),
      cores: navigator.hardwareConcurrency > 0
        ? navigator.hardwareConcurrency
        : null,
      memoryBytes: memoryBytes(missing),
      os: osName(),
      gpuAdapters: distinct(runs.map((r) => r.adapter)),
    },
    versions: {
      deno: Deno.version.deno,
      tfjs: distinct(runs.map((r) => r.tfjs)).join(", ") || "unknown",
      blas: distinct(runs.map((r) => describeBlas(r.blas))),
    },
    missing,
  };
}
