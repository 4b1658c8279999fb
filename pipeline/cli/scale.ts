/**
 * The CLI's parts for more cores and more machines: choosing the executor (`--jobs`,
 * `--executor slurm`), opening and checking the remote store before anything runs, and the
 * `worker`, `push` and `pull` commands.
 *
 * @module
 */
import { openRemote, readSiteConfig, type SiteConfig } from "../config.ts";
import type { ExecutorFactory } from "../engine.ts";
import { UserError } from "../errors.ts";
import type { PipelineEvent } from "../events.ts";
import { ProcessExecutor } from "../executor/processes.ts";
import { SlurmExecutor } from "../executor/slurm.ts";
import { wireSender } from "../executor/wire.ts";
import {
  type WorkerCommand,
  workerCommand,
  type WorkerCommandOptions,
} from "../executor/worker_command.ts";
import { type EngineOptions, planPipeline, rootPath } from "../plan/mod.ts";
import type { RemoteStore } from "../store/mod.ts";
import { openStore } from "../store/open.ts";
import type { S3Hooks } from "../store/s3.ts";
import type { AnyStage, PipelineDeclaration } from "../types.ts";
import { defaultJobs, resourcesOf } from "../resources.ts";
import { InProcessExecutor } from "../executor/in_process.ts";
import { runWorker } from "../worker.ts";
import { keysFromStore } from "../plan/stored_keys.ts";

/** Which executor runs stale instances. */
export type ExecutorName = "local" | "slurm";

/** What the scale flags asked for. */
export interface ScaleArgs {
  /** `--jobs N`; undefined: cores / cpus per instance. */
  jobs?: number;
  /** `--executor`. */
  executor: ExecutorName;
  /** The `--set`/`--params` flags as given, passed on to workers. */
  planArgs: string[];
}

/** Site config and remote store of a root, checked before anything runs. */
export interface Site {
  /** `pipeline.config.json`. */
  config: SiteConfig;
  /** The remote store, if configured. */
  remote: RemoteStore | undefined;
}

/** Reads the site config and opens and checks the remote (with `publish`: conditional writes too). */
export async function openSite(
  root: string,
  options: { publish: boolean; hooks?: S3Hooks },
): Promise<Site> {
  const config = await readSiteConfig(root);
  const remote = await openRemote(config, options.hooks);
  await remote?.check({ publish: options.publish });
  return { config, remote };
}

/** The worker command with a round's `--set` flags after the user's (later ones win). */
function withPlanArgs(
  worker: WorkerCommand,
  extra: readonly string[] | undefined,
): WorkerCommand {
  return extra === undefined || extra.length === 0
    ? worker
    : { ...worker, planArgs: [...worker.planArgs, ...extra] };
}

/** The executor factory for a run (undefined: in-process, one at a time). */
export async function chooseExecutor(
  pipeline: PipelineDeclaration,
  options: {
    root: string;
    scale: ScaleArgs;
    site: Site;
    worker?: WorkerCommandOptions;
  },
): Promise<ExecutorFactory | undefined> {
  const { scale, site, root } = options;
  const command = (explicit: boolean) =>
    workerCommand(root, { ...options.worker, planArgs: scale.planArgs })
      // The default only: an explicit --jobs N that cannot start workers is an error.
      .catch((error) => {
        if (explicit) throw error;
        return undefined;
      });
  if (scale.executor === "slurm") {
    const worker = await command(true) as WorkerCommand;
    const slurm = site.config.slurm;
    return (context) =>
      new SlurmExecutor({
        command: withPlanArgs(worker, context.planArgs),
        root,
        store: context.store,
        emit: context.emit,
        resources: (stage) => ({
          ...resourcesOf(
            pipeline.stages.find((s) => s.name === stage) as AnyStage<unknown>,
            context.plan.params,
          ),
          ...slurm.resources[stage],
        }),
        partition: slurm.partition,
        sbatchArgs: slurm.sbatchArgs,
        pollSeconds: slurm.pollSeconds,
      });
  }
  if (scale.jobs === 1) return undefined;
  const worker = await command(scale.jobs !== undefined);
  if (worker === undefined) return undefined;
  return (context) => {
    // The default depends on the params (a stage's threads may be one).
    const slots = scale.jobs ?? defaultJobs(context.plan);
    if (slots <= 1) {
      return new InProcessExecutor({
        store: context.store,
        allParams: context.plan.params,
        mermaid: context.plan.mermaid,
        root: context.plan.root,
        codeStamps: context.plan.codeStamps,
        codeLoadedSince: context.plan.codeLoadedSince,
        abortGraceSeconds: context.abortGraceSeconds,
        emit: context.emit,
      });
    }
    return new ProcessExecutor({
      slots,
      command: withPlanArgs(worker, context.planArgs),
      root,
      store: context.store,
      emit: context.emit,
      abortGraceSeconds: context.abortGraceSeconds,
    });
  };
}

/** `worker KEY`: computes one instance; returns the exit code. */
export async function workerCli<S extends PipelineDeclaration>(
  pipeline: S,
  key: string,
  options: {
    engine: EngineOptions;
    json: boolean;
    recompute: boolean;
    signal: AbortSignal;
    stdout: (text: string) => void;
    hooks?: S3Hooks;
  },
): Promise<number> {
  if (!/^[0-9a-f]{64}$/.test(key)) {
    throw new UserError(
      `worker takes one instance key (64 hex digits), got ${
        JSON.stringify(key)
      }`,
    );
  }
  const send = options.json
    ? wireSender(options.stdout)
    : (event: PipelineEvent) => options.engine.onEvent?.(event);
  const site = await openSite(options.engine.root.toString(), {
    publish: true,
    hooks: options.hooks,
  });
  try {
    await runWorker(pipeline, key, {
      ...options.engine,
      remote: site.remote,
      onEvent: send,
      signal: options.signal,
      recompute: options.recompute,
      scratchSyncSeconds: site.config.checkpointUploadSeconds,
    });
    return 0;
  } catch (error) {
    if (options.signal.aborted) return 130;
    if (options.json) {
      send({ type: "failed", instance: key, error, seconds: 0 });
    }
    throw error;
  }
}

/** `push` and `pull`: copy the current instances' results to or from the remote store. */
export async function transferCli<S extends PipelineDeclaration>(
  pipeline: S,
  direction: "push" | "pull",
  options: {
    engine: EngineOptions;
    stdout: (text: string) => void;
    hooks?: S3Hooks;
  },
): Promise<number> {
  // Credentials and the bucket are checked before planning writes anything (the code memo).
  const site = await openSite(rootPath(options.engine.root), {
    publish: direction === "push",
    hooks: options.hooks,
  });
  if (site.remote === undefined) {
    throw new UserError(
      `${direction} needs a remote store: set PIPELINE_REMOTE=s3://bucket/prefix (or "remote" in pipeline.config.json)`,
    );
  }
  const plan = await planPipeline(pipeline, options.engine);
  const store = openStore(plan.root, {
    remote: site.remote,
    onWarning: (message) => options.stdout(`warning: ${message}\n`),
  });
  const counts = { done: 0, present: 0, missing: 0 };
  // Upstream first: a result's outputs key the instances below it.
  const walked = await keysFromStore(plan, async (instance) => {
    if (direction === "push") {
      const read = await store.readManifest(instance.key);
      if (read.state !== "ok") return undefined;
      const outcome = await store.publish(read.manifest);
      counts[outcome === "published" ? "done" : "present"]++;
      options.stdout(`${outcome.padEnd(9)}  ${instance.name}\n`);
      return read.manifest;
    }
    const found = await store.fetch(instance.key, {
      declared: instance.outputs,
      remote: true,
      name: instance.name,
    });
    if (found.state === "missing") return undefined;
    const what = found.state === "fetched" ? "pulled" : "present";
    counts[what === "pulled" ? "done" : what]++;
    options.stdout(`${what.padEnd(9)}  ${instance.name}\n`);
    return found.manifest;
  });
  for (const instance of plan.instances) {
    if (walked.get(instance.name)?.manifest !== undefined) continue;
    counts.missing++;
    options.stdout(`${"missing".padEnd(9)}  ${instance.name}\n`);
  }
  const verb = direction === "push" ? "pushed" : "pulled";
  options.stdout(
    `${direction}: ${counts.done} ${verb}, ${counts.present} already there, ${counts.missing} not in the ${
      direction === "push" ? "local" : "remote"
    } store (${site.remote.url})\n`,
  );
  return 0;
}
