export * from "./fixtures";
export * from "./sql-shapes";
export * from "./stack";
