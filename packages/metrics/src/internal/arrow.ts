// Arrow column helpers live in @bitlens/core; this file only keeps the package's local names.
export { field, listOf, float32ListFlat, float64List, int32List, utf8, utf8List, int32, float64, bool, tableOf, listRow, float32Row, numbers, strings, booleans } from '@bitlens/core';
