export { renderReport, REPORT_FIGURES } from './render-report.js';
export type { ReportFigure } from './render-report.js';
export { renderAnalysisReport, ANALYSIS_FIGURES } from './render-analysis-report.js';
export type { AnalysisFigure } from './render-analysis-report.js';
export { textSummary } from './text-summary.js';
export type {
  ReportData, AnalysisReportData, ModelReport, PrecisionReport, TrainingCurves, ProgressCurves, MechanismReport, ComparisonRow, ComparisonSide, ReportProvenance, StageRecord,
  ModelViews, NeuronMap, ClockPlane, AttentionView, Matrix, FrequencyEvolution,
} from './report-data.js';
export { renderSweepReport, SWEEP_METRICS } from './render-sweep-report.js';
export type { SweepReportData, SweepCellReport, SweepMetric } from './render-sweep-report.js';
export { modelViews, ModelViewsSchema, REPORT_HOOKS, VIEW_KINDS } from './model-views.js';
export type { ModelViewsRow, ModelViewsOptions, ViewKind } from './model-views.js';
export { embedSpectra, EmbedSpectrumSchema } from './embed-spectra.js';
export type { EmbedSpectrum } from './embed-spectra.js';
export { readModelViews, frequencyEvolution } from './read-views.js';
export { modelReportFromTables, embedFrequencyNorms, neuronHistogram, mechanismReport, columnValues } from './model-report.js';
export type { AnalysisTables } from './model-report.js';
