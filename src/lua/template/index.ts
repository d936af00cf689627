export { writeTemplate } from './render';
export { templateCacheStats } from './load';
