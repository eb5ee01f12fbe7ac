/**
 * tidelog/testing: crash-testing helpers for services built on tidelog.
 *
 *   crashChild          run a function module or a command in a child process and
 *                       SIGKILL it at a chosen, seeded or named moment
 *   report, crashPoint  the child's side: report facts, mark points to kill at
 *   simulatePowerLoss   drop what a dead writer had not synced, as a power cut would
 *   verifyLog, verifyStore
 *                       full read-only checks of a partition / of every partition of a store
 *
 * See "Crash-testing your service" in the README and docs/durability.md.
 */
export { crashChild, crashPoint, pickDelay, report } from './crash-child.js';
export type { CrashChildOptions, CrashChildResult, CrashEvent } from './crash-child.js';
export { lockHolder, readHead, simulatePowerLoss } from './power-loss.js';
export type { HeadState, PartitionPowerLoss, PowerLossOptions, PowerLossReport } from './power-loss.js';
export { verifyStore } from './verify-store.js';
export type { StorePartitionReport, StoreVerifyIssue, StoreVerifyReport } from './verify-store.js';
export { verifyLog } from '../verify.js';
export type { VerifyIssue, VerifyReport } from '../verify.js';
