export { fourierBasis, fourierTransform, rowNorms, frequencyNorms, sumDirections, numFrequencies, checkModulus } from './fourier.js';
export type { FourierBasis, FourierLayout } from './fourier.js';
export { gini } from './gini.js';
export { keyFrequenciesFromNorms, DEFAULT_KEY_RULE } from './key-frequencies.js';
export type { KeyFrequencyRule, KeyFrequencies } from './key-frequencies.js';
export { fourierSpectrum, embeddingSpectrum, neuronLogitMap, fourierSparsity, DEFAULT_SPARSITY, describeSparsity, cyclicSpectrum, logEmbeddingSpectrum } from './spectra.js';
export type { FourierSpectrum, FourierSparsity, SparsityThreshold, CyclicSpectrum } from './spectra.js';
export { crossEntropy, projectOntoSumFrequencies, restrictedLogits, excludedLogits, frequencyLosses } from './loss.js';
export type { LossAccuracy, FrequencyLosses, FrequencyLossOptions } from './loss.js';
export { inputGrid, isTask, resolveTask, TASKS, TaskSchema } from './task.js';
export { taskBasis, basisDirections, basisFrequencies, isPlainBasis, combinationKeys } from './task-basis.js';
export type { TaskBasis } from './task-basis.js';
export { primitiveRoot, discreteLogs } from './discrete-log.js';
export type { DiscreteLogs } from './discrete-log.js';
export { logitAsymmetry, attentionAsymmetry } from './asymmetry.js';
export { GRID_MAX_P, GRID_MAX_P_REASON, gridModulusSchema, gridPeakBytes, maxGridModulus, MEMORY_BUDGET_BYTES, MEMORY_CLASS_BYTES, ONE_MODEL_FOOTPRINT, THREE_MODEL_FOOTPRINT } from './limits.js';
export type { GridFootprint } from './limits.js';
export type { Task, InputGrid } from './task.js';
export { neuronFrequencyFve, neuronFrequencyFveIn, clusterNeurons, varianceExplainedBy } from './neurons.js';
export type { NeuronFrequencies, NeuronClusters } from './neurons.js';
export { distanceIrrelevance, distanceIrrelevanceIn, correctLogits, circularity, meanCosine } from './clock-pizza.js';
export { quadratureSum, quadratureClosedForm, quadratureError, evenPhases, fitNeuronWaves, clusterQuadrature } from './quadrature.js';
export type { NeuronWave, ClusterQuadrature } from './quadrature.js';
export { loadModel, tensorOf, gridTokens, runGrid, gridOutputs, gridLogits } from './model.js';
export type { LoadedModel, WeightsColumn, GridBatch, GridRunOptions } from './model.js';
export { ablate, patchActivation, seededPermutation, unablatedLoss } from './interventions.js';
export type { AblationTarget, AblationMode, AblationResult, PatchResult } from './interventions.js';
export { directLogitAttribution, directLogitAttributionFrom, dlaHooks, gradientSymmetricity, gradientSymmetricityOf, sampleTriples } from './attribution.js';
export type { DirectLogitAttribution } from './attribution.js';
export { analyzeModel } from './analyze-model.js';
export type { AnalysisOptions, ModelAnalysis } from './analyze-model.js';
export { activations, activationMatrix, POSITION_KEY } from './activations.js';
export type { ActivationsOptions, ActivationMatrix } from './activations.js';
export { gridDataset } from './stages/grid-dataset.js';
export type { GridSplit } from './stages/grid-dataset.js';
export { datasetLabels, datasetTask } from './stages/dataset-labels.js';
export type { DatasetLabels } from './stages/dataset-labels.js';
export { fourierNorms } from './stages/fourier-norms.js';
export { neuronFrequencies, NEURON_THRESHOLD_KEY, NEURON_MIN_COUNT_KEY, NEURON_BASIS_KEY, NEURON_PLAIN_KEY } from './stages/neuron-frequencies.js';
export { keyFrequencies, keysOf, EMBED_GAP_RATIO_KEY, EMBED_LOG_GAP_RATIO_KEY, EMBED_LOG_GENERATOR_KEY } from './stages/key-frequencies.js';
export { frequencyLossesStage, lossKeyMethod, LOSS_BASIS_KEY } from './stages/frequency-losses.js';
export type { LossKeys } from './stages/frequency-losses.js';
export { asymmetry, PATTERN_HOOK } from './stages/asymmetry.js';
export { clockPizza } from './stages/clock-pizza.js';
export { quadrature } from './stages/quadrature.js';
export { ablations } from './stages/ablations.js';
export { attribution } from './stages/attribution.js';
export { patching } from './stages/patching.js';
export { mechanismSummary } from './stages/mechanism-summary.js';
export {
  ActivationsSchema,
  GridSchema,
  FourierNormsSchema,
  NeuronFreqsSchema,
  KeyFreqsSchema,
  LossesSchema,
  ClockPizzaSchema,
  AsymmetrySchema,
  QuadratureSchema,
  AblationsSchema,
  AttributionSchema,
  PatchingSchema,
  MechanismSchema,
  ComparisonSchema,
} from './schemas.js';
export type { Activations, Grid, FourierNorms, NeuronFreqs, KeyFreqs, Losses, ClockPizza, Asymmetry, Quadrature, Ablations, Attribution, Patching, Mechanism, Comparison } from './schemas.js';
export { compareMechanisms, sameAlgorithmVerdict, mechanismChecks, mechanismNumbers, jaccard, formatComparison, DEFAULT_VERDICT_RULE } from './compare.js';
export type { VerdictRule, MechanismNumbers, Verdict } from './compare.js';
export { acdc, meanKl } from './acdc.js';
export type { GraphEdge, AcdcResult } from './acdc.js';
export { gridFromDataset } from './grid-from-dataset.js';
export { mechanismSubgraph, DEFAULT_ANALYSIS } from './mechanism-subgraph.js';
export type { AnalysisSettings, MechanismSubgraphOptions, MechanismNodes } from './mechanism-subgraph.js';
