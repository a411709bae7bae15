/**
 * The TensorFlow.js adapter, `keops-ts/tfjs`, for browsers (see ./tfjs-adapter.ts): the same API
 * on the browser host (wasm, then js).
 * @packageDocumentation
 */
import "../browser.js";

export * from "./tfjs-adapter.js";
