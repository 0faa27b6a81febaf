/** runprint/server: the HTTP service as a fetch handler, and the Node socket that serves it. */
export { createApp, type App, type AppOptions, type OffPaths } from './app.ts';
export { listen, type Listening } from './listen.ts';
export { witnessRoutes, MAX_ADD_CHECKPOINT_BYTES, type WitnessRouteOptions, type WitnessState } from './witness-routes.ts';
