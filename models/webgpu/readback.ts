/**
 * Reading GPU buffers back without stalling the queue: a pool of mappable staging
 * buffers, each filled by a copy recorded into a step's own command encoder (so the read
 * costs no extra submission) and mapped after that submission.
 *
 * @module
 */
import type { DeviceGuard } from "./device.ts";

/** A read in flight: the copy is recorded, the map starts once the encoder is submitted. */
export interface PendingRead {
  /** Starts the map (call right after the submission) and resolves with a copy. */
  start(): Promise<Float32Array>;
}

/** Staging buffers reused across reads of the same size. */
export class ReadbackPool {
  readonly #device: GPUDevice;
  readonly #guard: DeviceGuard;
  readonly #free = new Map<number, GPUBuffer[]>();
  readonly #all = new Set<GPUBuffer>();

  /** A pool on `device`; failures are explained by `guard`. */
  constructor(device: GPUDevice, guard: DeviceGuard) {
    this.#device = device;
    this.#guard = guard;
  }

  /**
   * Records into `encoder` a copy of `byteSize` bytes of `source` (from `sourceOffset`)
   * into a staging buffer.
   */
  record(
    encoder: GPUCommandEncoder,
    source: GPUBuffer,
    range: { sourceOffset?: number; byteSize: number },
  ): PendingRead {
    const size = Math.ceil(range.byteSize / 4) * 4;
    const staging = this.#free.get(size)?.pop() ?? this.#create(size);
    encoder.copyBufferToBuffer(
      source,
      range.sourceOffset ?? 0,
      staging,
      0,
      size,
    );
    return {
      start: async () => {
        try {
          await staging.mapAsync(GPUMapMode.READ);
        } catch (error) {
          throw await this.#guard.explain(error, "read back from the GPU");
        }
        const values = new Float32Array(staging.getMappedRange().slice(0));
        staging.unmap();
        const list = this.#free.get(size) ?? [];
        list.push(staging);
        this.#free.set(size, list);
        return values.subarray(0, range.byteSize / 4);
      },
    };
  }

  /** Destroys every staging buffer. */
  destroy(): void {
    for (const b of this.#all) b.destroy();
    this.#all.clear();
    this.#free.clear();
  }

  #create(size: number): GPUBuffer {
    const buffer = this.#guard.scoped(
      "read-back buffer",
      () =>
        this.#device.createBuffer({
          size,
          usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
        }),
    );
    this.#all.add(buffer);
    return buffer;
  }
}
