/**
 * The ONNX backend of the world model (loaded lazily by src/backends/world-model.ts, so the oracle
 * path never loads onnxruntime).
 */
export { createOnnxWorldModel, DEFAULT_SAMPLER, type OnnxWorldModel, type OnnxWorldModelOptions, type SamplerSettings } from './world-model';
export { OnnxSessionHost, type ExecutionProvider, type SessionHostOptions } from './session-host';
export { sample, makeNoiseSchedule, ddpmStep, ddimStep, dpmSolverPlusPlus2MStep, type SamplerMethod } from './sampler';
export { slidingWindowInference, planWindows, importanceMap, WindowAccumulator } from './sliding-window';
