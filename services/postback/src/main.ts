import { connectCatalog } from "@aff/catalog";
import { runService } from "@aff/common";
import { startPostback } from "./app";
import { loadConfig } from "./config";

runService("postback", loadConfig, (config, deps) =>
  startPostback(config, { ...deps, catalog: connectCatalog(config, deps) }),
);
