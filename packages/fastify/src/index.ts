import './augment.js';
import { lifecycle } from './lifecycle-plugin.js';

export { lifecycle };
export type { LifecyclePluginOptions } from './lifecycle-plugin.js';
export default lifecycle;
