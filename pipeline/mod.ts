/**
 * The generic pipeline engine: a declarative stage DAG with a content-addressed cache.
 *
 * ```ts
 * import { definePipeline, defineStage, runCli } from "./mod.ts";
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
export { ItemSchema, itemValue } from "./plan/items.ts";
export {
  applyCombination,
  combinations,
  itemLabel,
  matrixAxes,
  matrixIssues,
} from "./plan/matrix.ts";
export type { MatrixAxis } from "./plan/matrix.ts";
export { upstreamInstance, upstreamInstances } from "./upstream_outputs.ts";
export type { UpstreamInstance } from "./upstream_outputs.ts";
export { HELP, parseCliArgs, runCli } from "./cli/mod.ts";
export type { CliArgs, CliOptions, Command } from "./cli/mod.ts";
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
export { roundsStatus, runRounds, runsInRounds } from "./plan/rounds.ts";
export type { RoundInfo, RoundsRunResult, RoundStatus } from "./plan/rounds.ts";
export { collectGarbage } from "./gc.ts";
export type { GcItem, GcOptions, GcResult } from "./gc.ts";
export { verifyPipeline } from "./verify.ts";
export type { VerifyProblem } from "./verify.ts";
export type { Action, PipelineEvent, PlanEntry } from "./events.ts";
export { formatReason, formatReasons, StaleReason } from "./plan/reasons.ts";
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
export { TerminalRenderer } from "./cli/render.ts";
export type { RendererOptions } from "./cli/render.ts";
export { formatBytes, formatDuration, formatProgress } from "./progress.ts";
export { closest, didYouMean, setFlag, shellQuote } from "./suggest.ts";
export type { ProgressState } from "./progress.ts";
export type { ParamOverride } from "./plan/params.ts";
export type { Instance } from "./plan/graph.ts";
export type { KeyRecord } from "./plan/key.ts";
export type { CodeFingerprint } from "./plan/code_hash.ts";
export { canonicalJson, sha256Bytes, sha256File } from "./plan/hash.ts";
export { writeFileAtomic } from "./fs.ts";
export { importLater } from "./lazy.ts";
