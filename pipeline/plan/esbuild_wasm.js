// @ts-self-types="./esbuild_wasm.d.ts"
// esbuild's WebAssembly, compiled but not instantiated (a source-phase import). The specifier is
// computed so that Deno does not load the 11 MB module before every command starts (it pre-loads
// literal imports), and it is a bare (npm) specifier so that loading it needs no read permission
// outside the project, where Deno's npm cache or the code may be. Plain JavaScript because
// TypeScript does not parse `import.source` yet; the types are beside it.
const specifier = ["esbuild-wasm", "esbuild.wasm"].join("/");

export function loadEsbuildWasm() {
  return import.source(specifier);
}
