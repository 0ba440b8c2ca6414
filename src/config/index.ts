export * from './config';
export { loadConfig, type LoadConfigOptions } from './load';
