/**
 * A scratch copy of the project's tracked files with the installed npm packages hard-linked in,
 * and a way to run the pipeline there exactly as `deno task pipeline` does. The code lives in
 * bench/scratch_project.ts (the bench's pipeline row uses it too); this module keeps the tests'
 * imports.
 *
 * @module
 */
export {
  committed,
  committedProject,
  type Ran,
  ROOT,
  runTask,
  scratchProject,
  trackedFiles,
} from "../../bench/scratch_project.ts";
