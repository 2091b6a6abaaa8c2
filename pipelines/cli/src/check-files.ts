import { type ConfigFiles, checkOutputFile, readRegularFile } from '@bitlens/core';

/**
 * Checks the files a config names before any work: every input is a regular file within its plausible size (read with
 * a bound and dropped: FIFOs, devices and huge files are refused without blocking), every output can be created (its
 * folder exists and takes files; the path is not a folder or device). Throws the reader's typed errors.
 */
export function checkConfigFiles(pipeline: string, files: ConfigFiles): void {
  const stage = `pipeline ${pipeline}`;
  for (const f of files.inputs ?? []) readRegularFile(f.path, { stage, field: f.field, maxBytes: f.maxBytes ?? 2 ** 30 });
  for (const f of files.outputs ?? []) checkOutputFile(f.path, { stage, field: f.field });
}
