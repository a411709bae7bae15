/**
 * The `keops-ts` command line with fault hooks, for test/distributed.test.ts (run as a child
 * process): `KEOPS_TEST_FAULT=throw-once:<shard>` fails that shard's first attempt;
 * `KEOPS_TEST_FAULT=slow:<ms>` sleeps before every first attempt (a worker to SIGKILL mid-shard).
 * Each shard start is logged as `start shard <n> attempt <k>`.
 */
import { main } from "../src/distributed/cli.js";

const [kind, arg] = (process.env.KEOPS_TEST_FAULT ?? "").split(":");
process.exitCode = await main(process.argv.slice(2), {
  async onShard({ shard, attempt }) {
    console.log(`start shard ${shard} attempt ${attempt}`);
    if (kind === "throw-once" && shard === Number(arg) && attempt === 1) throw new Error(`injected fault in shard ${shard}`);
    if (kind === "slow" && attempt === 1) await new Promise((r) => setTimeout(r, Number(arg)));
  },
});
