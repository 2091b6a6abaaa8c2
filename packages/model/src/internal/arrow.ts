import { listOf } from '@bitlens/core';
import { Float32, Int32, type List } from 'apache-arrow';

// Arrow column helpers live in @bitlens/core; this file only keeps the package's local names.
export { field, float32List as float32ListData, int32List as int32ListData, utf8 as utf8Data, int32 as int32Data, tableOf, typedRow as listRow } from '@bitlens/core';

/** List<Float32> type with a non-nullable child named `item`. */
export const listOfFloat32 = (): List<Float32> => listOf(new Float32());
/** List<Int32> type with a non-nullable child named `item`. */
export const listOfInt32 = (): List<Int32> => listOf(new Int32());
