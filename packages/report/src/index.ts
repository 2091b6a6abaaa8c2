export { renderReport, REPORT_FIGURES } from './render-report.js';
export type { ReportFigure } from './render-report.js';
export { textSummary } from './text-summary.js';
export type { ReportData, PrecisionReport, TrainingCurves, ProgressCurves, MechanismReport, ComparisonRow, ComparisonSide, ReportProvenance, StageRecord } from './report-data.js';
export { renderSweepReport, SWEEP_METRICS } from './render-sweep-report.js';
export type { SweepReportData, SweepCellReport, SweepMetric } from './render-sweep-report.js';
