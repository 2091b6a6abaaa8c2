import { BENCH_USAGE } from '@bitlens/bench';
import { WORKER_HELP } from './commands/worker.js';
import { STORE_HELP } from './store-command.js';

/** What `bitlens --help` prints. */
export const MAIN_HELP = `bitlens — tiny transformers, their circuits, and what ternary or binary weights change

Usage:
  bitlens run <pipeline> [options]   run a pipeline (options: bitlens help run)
  bitlens list [--json]              pipelines and their options, defaults and ranges
  bitlens bench [options]            kernel microbenchmarks and the regression gate (bitlens help bench)
  bitlens store ls|show|export|gc    look into the artifact store, export artifacts, clean it (bitlens help store)
  bitlens worker --queue redis://…   run sweep cells from a queue on this machine (bitlens help worker)
  bitlens help [command]             this text, or one command's options
  bitlens --version                  the version

Exit codes: 0 success; 1 the run failed (a stage, the store, the backend, the disk; a benchmark gate);
2 bad usage, config or option (found before any work: nothing was run or written).
Errors print without a stack trace; --debug or BITLENS_DEBUG=1 adds it.`;

/** What `bitlens help run` prints. */
export const RUN_HELP = `bitlens run <pipeline> [options]

Options:
  --config file        options as a JSON object (.json) or YAML mapping (.yaml, .yml); a regular file of at most 4 MiB
  --set key=value      one option (repeatable); the value is JSON when it parses (n=5, name='"x"'), a string
                       otherwise; dots nest (a.b=1); __proto__, constructor and prototype are refused as keys
  --backend name       tfjs backend: wasm (default, CPU), cpu, webgpu, tensorflow (tfjs-node, when installed)
  --store dir          artifact store folder (default $BITLENS_HOME/store, else ./.bitlens/store)
  --workers N          sweep: cells at once on worker threads here (default: the cores; 0 = in this process)
  --queue url          sweep: enqueue the cells on this Redis (redis://HOST:PORT) for \`bitlens worker\`s
  --dry-run            print the plan (each node, its stage, version, key, inputs, whether it is in the store)
                       and run nothing
  --json               the summary as one JSON object on stdout; stderr carries JSON lines (events, and an
                       error as {"error": {...}})
  --debug              stack traces of errors (also BITLENS_DEBUG=1)
  -h, --help           this text, with the pipeline's options when one is named

Everything is checked before any work: the config against the pipeline's schema (unknown keys, types, ranges),
the files it names (inputs must be regular files of plausible size; outputs must be creatable), the store.
\`bitlens list\` shows every pipeline's options with defaults and ranges.`;

/** What `bitlens help list` prints. */
export const LIST_HELP = `bitlens list [--json]

Lists every pipeline with its options: key, type and range, default, description. --json prints the same as JSON.`;

/** What `bitlens help help` prints. */
export const HELP_HELP = `bitlens help [command]

Prints the usage of bitlens, or of one command: run, list, bench, store, worker, help. \`bitlens <command> --help\` does the same.`;

/** The help text of each command. */
export const COMMAND_HELP: Readonly<Record<string, string>> = { run: RUN_HELP, list: LIST_HELP, bench: BENCH_USAGE, store: STORE_HELP, worker: WORKER_HELP, help: HELP_HELP };

/** The commands, for messages. */
export const COMMANDS: readonly string[] = Object.keys(COMMAND_HELP);
