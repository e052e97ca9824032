import { connectCatalog } from "@aff/catalog";
import { runService } from "@aff/common";
import { startRedirect } from "./app";
import { loadConfig } from "./config";

runService("redirect", loadConfig, (config, deps) =>
  startRedirect(config, { ...deps, catalog: connectCatalog(config, deps) }),
);
