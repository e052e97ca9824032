import { runService } from "@aff/common";
import { startReports } from "./app";
import { loadConfig } from "./config";

runService("reports", loadConfig, startReports);
