export * from "./campaign";
export * from "./fixtures";
export * from "./report-exactness";
export * from "./service-process";
export * from "./sql-shapes";
export * from "./stack";
