export * from "./clickid";
export * from "./config";
export * from "./errors";
export * from "./http";
export * from "./ids";
export * from "./lifecycle";
export * from "./logger";
export * from "./money";
