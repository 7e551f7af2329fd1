export { createEngine, ENGINE_INPUTS, type Engine, type EngineDeps } from './engine.js';
export { startEngine, type RunningEngine } from './start.js';
export { startOpsServer, type OpsServer, type OpsServerOptions } from './ops-server.js';
export { planRestore, replayStartMs, type RestorePlan } from './restore.js';
export {
  pendingMachines,
  createSideProgress,
  addCheckpoint,
  advancePosition,
  SIDE_KINDS,
  type SideProgress,
  type SideEnds,
} from './side-progress.js';
export { predictionRow } from './outputs.js';
export type { RowScorer, ScoredLike, OutputWriters, SourceCoordinates } from './outputs.js';
export {
  createRiskAlerts,
  createAlertEncoder,
  type RiskAlerts,
  type RiskAlertSink,
  type RiskAlertRecord,
  type RiskAlertsOptions,
  type ScoredGroup,
} from './risk-alerts.js';
export {
  createRiskAlertTracker,
  alertId,
  ALERT_STATES,
  type AlertState,
  type AlertTransition,
  type ComponentAlertState,
  type RiskAlertTracker,
  type RiskRow,
} from './risk-alert-state.js';
