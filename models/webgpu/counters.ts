/**
 * Counts WebGPU calls by wrapping the API's prototypes: compute dispatches, queue
 * submissions, buffer maps and buffer writes. Used by the bench to report calls per step
 * of any WebGPU code (ours or tfjs'), without changing that code.
 *
 * @module
 */

/** Call counts since the counter was installed (or last reset). */
export interface GpuCallCounts {
  /** `GPUComputePassEncoder.dispatchWorkgroups` (and the indirect variant). */
  dispatches: number;
  /** `GPUQueue.submit` calls. */
  submissions: number;
  /** `GPUBuffer.mapAsync` calls. */
  maps: number;
  /** `GPUQueue.writeBuffer` calls. */
  writes: number;
}

/** An installed counter. */
export interface GpuCallCounter {
  /** The counts so far. */
  read(): GpuCallCounts;
  /** Sets the counts to zero. */
  reset(): void;
  /** Removes the wrappers. */
  uninstall(): void;
}

type Proto = Record<string, (...args: unknown[]) => unknown>;

/** Installs the wrappers (throws where the WebGPU classes do not exist). */
export function installGpuCallCounter(): GpuCallCounter {
  const counts: GpuCallCounts = {
    dispatches: 0,
    submissions: 0,
    maps: 0,
    writes: 0,
  };
  const g = globalThis as unknown as Record<
    string,
    { prototype: Proto } | undefined
  >;
  const restore: (() => void)[] = [];
  const wrap = (cls: string, method: string, key: keyof GpuCallCounts) => {
    const proto = g[cls]?.prototype;
    if (!proto || typeof proto[method] !== "function") {
      throw new Error(
        `WebGPU counter: ${cls}.${method} does not exist in this runtime`,
      );
    }
    const original = proto[method];
    proto[method] = function (this: unknown, ...args: unknown[]) {
      counts[key]++;
      return original.apply(this, args);
    };
    restore.push(() => (proto[method] = original));
  };
  wrap("GPUComputePassEncoder", "dispatchWorkgroups", "dispatches");
  wrap("GPUComputePassEncoder", "dispatchWorkgroupsIndirect", "dispatches");
  wrap("GPUQueue", "submit", "submissions");
  wrap("GPUBuffer", "mapAsync", "maps");
  wrap("GPUQueue", "writeBuffer", "writes");
  return {
    read: () => ({ ...counts }),
    reset() {
      counts.dispatches =
        counts.submissions =
        counts.maps =
        counts.writes =
          0;
    },
    uninstall() {
      for (const undo of restore.reverse()) undo();
    },
  };
}
