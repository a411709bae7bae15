/**
 * `console.log` / `util.inspect` of a LazyTensor prints the KeOps printout (as `String(x)`),
 * installed on the prototype under the registered symbol `nodejs.util.inspect.custom` (no
 * `node:util` import: browsers load this too).
 */
import { INSPECT } from "../inspect.js";
import { LazyTensor } from "./lazytensor.js";

Object.defineProperty(LazyTensor.prototype, INSPECT, {
  value(this: LazyTensor<boolean>): string {
    return this.toString();
  },
  writable: true,
  configurable: true,
});
