#!/usr/bin/env node
/** The `keops-ts` executable (package.json "bin"): see cli.ts. */
import { main } from "./cli.js";

process.exitCode = await main(process.argv.slice(2));
