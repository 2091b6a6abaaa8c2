export type { BenchSuite, BenchTaskSpec, TaskMeta, RoundStats, TaskMeasurement, TaskSummary, SuiteReport } from './types.js';
export { summarize } from './summarize.js';
export { compareToBaseline } from './compare.js';
export type { CompareRow, CompareStatus, CompareOptions } from './compare.js';
export { runSuite, selectTasks } from './run.js';
export type { RunOptions } from './run.js';
export { reportRows, formatTable, compareRows, toGithubActionBenchmark, writeJson } from './report.js';
export { runBenchCli } from './cli.js';
export type { BenchCliOptions, CliIo } from './cli.js';
