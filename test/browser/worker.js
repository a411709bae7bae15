// A module Web Worker that runs the harness's cases (where blocking calls may use worker threads).
import { runCases } from "./harness.js";

self.onmessage = async (e) => {
  try {
    self.postMessage(await runCases(e.data.cases, e.data.threads, e.data.warm));
  } catch (err) {
    self.postMessage({ error: String(err && err.stack || err) });
  }
};
