// Arrow column helpers live in @bitlens/core; this file only keeps the package's local names.
export { nullData, float64 as float64Data, utf8 as utf8Data, columnData, tableOf, nullable } from '@bitlens/core';
