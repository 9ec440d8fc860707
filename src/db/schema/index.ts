export * from './users.js';
export * from './tools.js';
export * from './toolkits.js';
export * from './operations.js';
export * from './predictions.js';
export * from './jobs.js';
