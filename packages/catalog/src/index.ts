export * from "./api-keys";
export * from "./destination";
export * from "./links";
export * from "./redis";
export * from "./schemas";
export * from "./store";
