export * from "./fixtures";
export * from "./stack";
