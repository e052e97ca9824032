/** Finance report queries (commission reports, statements, payouts); see reports/*.ts and docs/adr/0006. */
export * from "./reports/as-of";
export * from "./reports/commission";
export * from "./reports/filter";
export * from "./reports/flags";
export * from "./reports/payouts";
export * from "./reports/plan";
export * from "./reports/statement";
