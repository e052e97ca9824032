export * from "./api-keys";
export * from "./coupons";
export * from "./destination";
export * from "./fx";
export * from "./links";
export * from "./redis";
export * from "./schemas";
export * from "./store";
