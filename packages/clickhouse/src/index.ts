export * from "./clicks";
export * from "./client";
export * from "./ledger";
export * from "./migrate";
export * from "./reports";
export * from "./sql";
export * from "./time";
