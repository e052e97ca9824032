import path from "node:path";
import express from "express";

/** The dashboard: one static page and script, plus uPlot served from its npm package (no CDN; hosts may be offline). */
export function dashboardRouter(): express.Router {
  const router = express.Router();
  const uplotDir = path.dirname(require.resolve("uplot/dist/uPlot.iife.min.js"));
  const own = path.resolve(__dirname, "..", "dashboard");
  router.use((_req, res, next) => {
    res.setHeader(
      "Content-Security-Policy",
      "default-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'",
    );
    next();
  });
  router.get("/vendor/uPlot.iife.min.js", (_req, res) => res.sendFile(path.join(uplotDir, "uPlot.iife.min.js")));
  router.get("/vendor/uPlot.min.css", (_req, res) => res.sendFile(path.join(uplotDir, "uPlot.min.css")));
  router.use(express.static(own, { index: "index.html", maxAge: "1m" }));
  return router;
}
