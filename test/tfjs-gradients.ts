/**
 * Test scaffolding: `@tensorflow/tfjs-core` alone (as installed here, without the
 * `@tensorflow/tfjs` union package) registers no gradients for tf's own ops; the tests register
 * the few they use (as `@tensorflow/tfjs` does for every op).
 */
import * as tf from "@tensorflow/tfjs-core";

type Saved = tf.Tensor[];
const configs: tf.GradConfig[] = [
  {
    kernelName: "ExpandDims",
    inputsToSave: ["input"],
    gradFunc: (dy, saved: Saved) => ({ input: () => tf.reshape(dy as tf.Tensor, saved[0]!.shape) }),
  },
  {
    kernelName: "Sum",
    inputsToSave: ["x"],
    gradFunc: (dy, saved: Saved, attrs) => {
      const x = saved[0]!;
      const axis = (attrs as { axis?: number | number[] | null }).axis;
      const axes = axis === null || axis === undefined ? x.shape.map((_, k) => k) : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.rank : a));
      const keep = x.shape.map((s, k) => (axes.includes(k) ? 1 : s));
      return { x: () => tf.mul(tf.ones(x.shape), tf.reshape(dy as tf.Tensor, keep)) };
    },
  },
  {
    kernelName: "Square",
    inputsToSave: ["x"],
    gradFunc: (dy, saved: Saved) => ({ x: () => tf.mul(dy as tf.Tensor, tf.mul(saved[0]!, 2)) }),
  },
  {
    kernelName: "Multiply",
    inputsToSave: ["a", "b"],
    gradFunc: (dy, saved: Saved) => ({ a: () => tf.mul(dy as tf.Tensor, saved[1]!), b: () => tf.mul(dy as tf.Tensor, saved[0]!) }),
  },
];

for (const c of configs) if (!tf.getGradient(c.kernelName)) tf.registerGradient(c);
