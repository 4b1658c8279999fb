/** esbuild's WebAssembly module, compiled, for `initialize({ wasmModule })`. */
export function loadEsbuildWasm(): Promise<WebAssembly.Module>;
