/**
 * The generic pipeline engine: a declarative stage DAG with a content-addressed cache.
 *
 * ```ts
 * import { definePipeline, defineStage, runCli } from "../pipeline/mod.ts";
 * ```
 *
 * It knows nothing of the experiment: stages are plain declarations with a `run(ctx)`.
 *
 * @module
 */
export { definePipeline, defineStage } from "./declare.ts";
export type {
  AnyStage,
  Item,
  ItemRecord,
  JsonValue,
  PipelineDeclaration,
  Progress,
  ProgressOptions,
  RoundsDeclaration,
  StageContext,
  StageDeclaration,
  UpstreamInfo,
} from "./types.ts";
export { ItemSchema, itemValue } from "./items.ts";
export {
  applyCombination,
  combinations,
  itemLabel,
  matrixAxes,
  matrixIssues,
} from "./matrix.ts";
export type { MatrixAxis } from "./matrix.ts";
export { upstreamInstance, upstreamInstances } from "./upstream_outputs.ts";
export type { UpstreamInstance } from "./upstream_outputs.ts";
export { HELP, parseCliArgs, runCli } from "./cli.ts";
export type { CliArgs, CliOptions, Command } from "./cli.ts";
export {
  pipelineStatus,
  planPipeline,
  rootPath,
  runPipeline,
} from "./engine.ts";
export type {
  EngineOptions,
  KeyedInstance,
  Plan,
  PlannedInstance,
  RunOptions,
  RunResult,
  StatusEntry,
} from "./engine.ts";
export { roundsStatus, runRounds, runsInRounds } from "./rounds.ts";
export type { RoundInfo, RoundsRunResult, RoundStatus } from "./rounds.ts";
export { collectGarbage } from "./gc.ts";
export type { GcItem, GcOptions, GcResult } from "./gc.ts";
export { verifyPipeline } from "./verify.ts";
export type { VerifyProblem } from "./verify.ts";
export type { Action, PipelineEvent, PlanEntry } from "./events.ts";
export { formatReason, formatReasons, StaleReason } from "./reasons.ts";
export {
  DiskFullError,
  errorMessage,
  InterruptedError,
  isUserError,
  StageFailedError,
  UserError,
} from "./errors.ts";
export { CorruptInputError, RunLockBusyError } from "./store/mod.ts";
export { CodeChangedError } from "./plan/code_stability.ts";
export type { RunLockInfo } from "./store/mod.ts";
export { TerminalRenderer } from "./render.ts";
export type { RendererOptions } from "./render.ts";
export { formatBytes, formatDuration, formatProgress } from "./progress.ts";
export { closest, didYouMean, setFlag, shellQuote } from "./suggest.ts";
export type { ProgressState } from "./progress.ts";
export type { ParamOverride } from "./params.ts";
export type { Instance } from "./graph.ts";
export type { KeyRecord } from "./key.ts";
export type { CodeFingerprint } from "./code_hash.ts";
export { canonicalJson, sha256Bytes, sha256File } from "./hash.ts";
export { writeFileAtomic } from "./fs.ts";
export { importLater } from "./lazy.ts";
