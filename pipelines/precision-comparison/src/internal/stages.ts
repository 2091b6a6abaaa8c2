import { type Mechanism, MechanismSchema } from '@bitlens/circuits';
import { type JoinStage, defineJoin } from '@bitlens/core';
import { concatMap, forkJoin, from, toArray } from 'rxjs';

const PKG = 'pipeline-precision-comparison';

/**
 * The mechanism rows of the three runs in one stream, always in run order fp32, ternary, binary (input of
 * `compareMechanisms`). All three inputs are subscribed at once (their analyses run side by side); the output waits
 * for all of them so that its order, and so the comparison artifact, does not depend on which finished first.
 */
export function collectMechanisms(): JoinStage<{ fp32: Mechanism; ternary: Mechanism; binary: Mechanism }, Mechanism> {
  return defineJoin({
    name: `${PKG}/collect-mechanisms`,
    version: '1',
    options: {},
    inputs: { fp32: MechanismSchema, ternary: MechanismSchema, binary: MechanismSchema },
    output: MechanismSchema,
    apply: ({ fp32, ternary, binary }) => forkJoin([fp32.pipe(toArray()), ternary.pipe(toArray()), binary.pipe(toArray())]).pipe(concatMap((parts) => from(parts.flat()))),
  });
}
