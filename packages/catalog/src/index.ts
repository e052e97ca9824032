export * from "./api-keys";
export * from "./destination";
export * from "./redis";
export * from "./schemas";
export * from "./store";
