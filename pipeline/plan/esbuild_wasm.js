// @ts-self-types="./esbuild_wasm.d.ts"
// esbuild's WebAssembly, compiled but not instantiated (a source-phase import): loading it as a
// module needs no read permission outside the project, where Deno's npm cache may be. Plain
// JavaScript because TypeScript does not parse `import source` yet; the types are beside it.
import source esbuildWasm from "esbuild-wasm/esbuild.wasm";

export default esbuildWasm;
