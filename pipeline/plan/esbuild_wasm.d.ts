/** esbuild's WebAssembly module, compiled, for `initialize({ wasmModule })`. */
declare const esbuildWasm: WebAssembly.Module;
export default esbuildWasm;
