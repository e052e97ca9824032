import { runService } from "@aff/common";
import { startAttribution } from "./app";
import { loadConfig } from "./config";

runService("attribution", loadConfig, startAttribution);
