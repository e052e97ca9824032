// Dashboard script: reads the filters, calls the reports API with the key, draws uPlot charts and tables.
(() => {
  const $ = (id) => document.getElementById(id);
  const FILTERS = ["from", "to", "tz", "merchant_id", "campaign_id", "influencer_id", "currency", "status"];
  const STATUSES = ["pending", "review", "approved", "payable", "paid", "rejected", "reversed"];
  let chart = null;

  const exponent = (c) =>
    new Intl.NumberFormat("en", { style: "currency", currency: c }).resolvedOptions().maximumFractionDigits;
  function money(minor, currency) {
    const e = exponent(currency);
    const neg = minor < 0;
    const digits = String(Math.abs(minor)).padStart(e + 1, "0");
    const whole = digits.slice(0, digits.length - e);
    return `${neg ? "-" : ""}${whole}${e ? `.${digits.slice(digits.length - e)}` : ""} ${currency}`;
  }

  function params(extra) {
    const p = new URLSearchParams();
    for (const f of FILTERS) {
      const v = $(f).value.trim();
      if (v) p.set(f, v);
    }
    for (const [k, v] of Object.entries(extra)) p.set(k, String(v));
    return p;
  }

  async function api(extra) {
    const res = await fetch(`/v1/reports/commissions?${params(extra)}`, {
      headers: { authorization: `Bearer ${$("key").value}` },
    });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      const issues = (body.issues || []).map((i) => `${i.path}: ${i.message}`).join("; ");
      throw new Error(`${res.status} ${body.error || ""} ${issues}`.trim());
    }
    return res;
  }
  const json = async (extra) => (await api(extra)).json();

  /** The currency with the largest total: the one the time series shows when no currency filter is set. */
  function mainCurrency(rows) {
    const totals = new Map();
    for (const r of rows)
      if (r.currency) totals.set(r.currency, (totals.get(r.currency) || 0) + Math.abs(r.total_minor));
    return [...totals.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] || null;
  }

  function drawTotals(rows) {
    const byCurrency = new Map();
    // A day earning in two currencies has one row per currency, each carrying the day's clicks: count them once.
    const clicksByDay = new Map();
    let conversions = 0;
    for (const r of rows) {
      clicksByDay.set(r.period, r.clicks);
      conversions += r.conversions;
      if (r.currency) byCurrency.set(r.currency, (byCurrency.get(r.currency) || 0) + r.total_minor);
    }
    const clicks = [...clicksByDay.values()].reduce((a, b) => a + b, 0);
    const cells = [...byCurrency.entries()].map(
      ([c, v]) =>
        `<div><span>Commission ${c}</span><b class="total-commission" data-currency="${c}">${money(v, c)}</b></div>`,
    );
    cells.push(
      `<div><span>Clicks</span><b id="total-clicks">${clicks}</b></div>`,
      `<div><span>Conversions</span><b id="total-conversions">${conversions}</b></div>`,
    );
    $("totals").innerHTML = cells.join("");
  }

  function drawSeries(rows, currency) {
    const days = [...new Set(rows.map((r) => r.period))].sort();
    const commission = days.map(
      (d) =>
        rows.filter((r) => r.period === d && r.currency === currency).reduce((s, r) => s + r.total_minor, 0) /
        10 ** (currency ? exponent(currency) : 0),
    );
    const clicks = days.map(
      (d) =>
        rows.filter((r) => r.period === d).reduce((s, r) => s + r.clicks, 0) /
        Math.max(1, new Set(rows.filter((r) => r.period === d).map((r) => r.currency)).size),
    );
    const xs = days.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000);
    $("chart-currency").textContent = currency ? `(${currency})` : "";
    const opts = {
      width: Math.max(400, $("timeseries").clientWidth || 900),
      height: 260,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      scales: { x: { time: true }, clicks: {} },
      series: [
        {},
        { label: `Commission ${currency || ""}`, stroke: "#2563eb", width: 2, fill: "rgba(37,99,235,0.12)" },
        { label: "Clicks", stroke: "#f59e0b", width: 2, scale: "clicks" },
      ],
      axes: [{}, { label: "commission" }, { side: 1, scale: "clicks", label: "clicks", grid: { show: false } }],
    };
    if (chart) chart.destroy();
    chart = new uPlot(opts, [xs, commission, clicks], $("timeseries"));
  }

  function drawStatuses(rows, currency) {
    const sums = STATUSES.map((s) =>
      rows.filter((r) => r.currency === currency).reduce((a, r) => a + r[`${s}_minor`], 0),
    );
    const max = Math.max(1, ...sums.map(Math.abs));
    $("statuses").innerHTML = STATUSES.map(
      (s, i) =>
        `<tr data-status="${s}"><td>${s}</td><td class="num">${currency ? money(sums[i], currency) : "-"}</td><td class="barcell"><div class="bar" data-w="${Math.round((100 * Math.abs(sums[i])) / max)}"></div></td></tr>`,
    ).join("");
    for (const bar of $("statuses").querySelectorAll(".bar")) bar.style.width = `${bar.dataset.w}%`;
  }

  /** Names of the ids on the page (the API answers only the ones the key may see); ids stay as the fallback. */
  async function names(influencerIds, campaignIds) {
    const p = new URLSearchParams();
    if (influencerIds.length) p.set("influencer_ids", [...new Set(influencerIds)].join(","));
    if (campaignIds.length) p.set("campaign_ids", [...new Set(campaignIds)].join(","));
    if (![...p.keys()].length) return { influencers: {}, campaigns: {} };
    const res = await fetch(`/v1/names?${p}`, { headers: { authorization: `Bearer ${$("key").value}` } });
    return res.ok ? res.json() : { influencers: {}, campaigns: {} };
  }

  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  /**
   * Top lists are ranked within one currency at a time: amounts in different currencies are never sorted against
   * each other (the books hold no conversion for that), so each currency gets its own group.
   */
  function drawTop(table, groups, keyName, labels) {
    const html = [];
    for (const [currency, rows] of groups) {
      html.push(`<tr class="group"><th colspan="4">${esc(currency)}</th></tr>`);
      const max = Math.max(1, ...rows.map((r) => Math.abs(r.total_minor)));
      for (const r of rows) {
        const id = r[keyName];
        const label = labels[id] ? esc(labels[id]) : `#${id}`;
        html.push(
          `<tr class="item" data-id="${id}"><td>${label}</td><td class="num">${money(r.total_minor, r.currency)}</td><td class="num">${r.clicks} clicks</td><td class="barcell"><div class="bar" data-w="${Math.round((100 * Math.abs(r.total_minor)) / max)}"></div></td></tr>`,
        );
      }
    }
    $(table).innerHTML = html.join("");
    for (const bar of $(table).querySelectorAll(".bar")) bar.style.width = `${bar.dataset.w}%`;
  }

  /** Currencies of the period, largest total first. */
  function currencies(rows) {
    const totals = new Map();
    for (const r of rows)
      if (r.currency) totals.set(r.currency, (totals.get(r.currency) || 0) + Math.abs(r.total_minor));
    return [...totals.entries()].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  }

  /** Top 10 per currency, one request per currency (a currency filter in the form keeps just that one). */
  async function topPerCurrency(groupBy, list) {
    const groups = await Promise.all(
      list.map(async (c) => [
        c,
        (await json({ group_by: groupBy, sort: "total", order: "desc", limit: 10, currency: c })).rows,
      ]),
    );
    return groups;
  }

  /** A table of text cells built as DOM nodes: merchant-supplied text (order ids, reasons) is never parsed as HTML. */
  function fillTable(table, header, rows) {
    const head = document.createElement("tr");
    for (const h of header) head.append(Object.assign(document.createElement("th"), { textContent: h }));
    const body = rows.map((cells) => {
      const tr = document.createElement("tr");
      for (const c of cells) tr.append(Object.assign(document.createElement("td"), { textContent: String(c ?? "") }));
      return tr;
    });
    $(table).replaceChildren(head, ...body);
  }

  /** Payout runs (finance, admin, and influencers for their own lines); hidden for keys that cannot see them. */
  async function loadRuns() {
    const res = await fetch("/v1/payout-runs", { headers: { authorization: `Bearer ${$("key").value}` } });
    $("runs-section").hidden = !res.ok;
    if (!res.ok) return;
    const { runs } = await res.json();
    const details = await Promise.all(
      runs
        .slice(0, 20)
        .map((r) =>
          fetch(`/v1/payout-runs/${r.run_id}`, { headers: { authorization: `Bearer ${$("key").value}` } }).then((x) =>
            x.json(),
          ),
        ),
    );
    fillTable(
      "payout-runs",
      ["created", "as of", "currency", "lines", "paid", "status"],
      details.map((d) => [
        d.created_at.slice(0, 16).replace("T", " "),
        d.as_of.slice(0, 16).replace("T", " "),
        d.currency,
        d.lines.length,
        money(
          d.lines.filter((l) => l.status === "paid").reduce((a, l) => a + l.amount_minor, 0),
          d.currency,
        ),
        d.status,
      ]),
    );
  }

  /** A merchant key's latest postbacks with what became of each; hidden for other keys. */
  async function loadLog() {
    const p = new URLSearchParams({ from: $("from").value, to: $("to").value, limit: "50" });
    const res = await fetch(`/v1/postback-log?${p}`, { headers: { authorization: `Bearer ${$("key").value}` } });
    $("log-section").hidden = !res.ok;
    if (!res.ok) return;
    const { events } = await res.json();
    fillTable(
      "postback-log",
      ["received", "order", "type", "outcome", "reason"],
      events.map((e) => [e.received_at.slice(0, 19).replace("T", " "), e.order_id, e.type, e.outcome, e.reason]),
    );
  }

  async function load() {
    document.body.dataset.state = "loading";
    $("error").textContent = "";
    localStorage.setItem("reports_key", $("key").value);
    try {
      const series = await json({ group_by: "day", limit: 10000 });
      const list = $("currency").value.trim() ? [$("currency").value.trim()] : currencies(series.rows);
      const [influencers, campaigns] = await Promise.all([
        topPerCurrency("influencer", list),
        topPerCurrency("campaign", list),
      ]);
      const labels = await names(
        influencers.flatMap(([, rows]) => rows.map((r) => r.influencer_id)),
        campaigns.flatMap(([, rows]) => rows.map((r) => r.campaign_id)),
      );
      const currency = $("currency").value.trim() || mainCurrency(series.rows);
      drawTotals(series.rows);
      drawSeries(series.rows, currency);
      drawStatuses(series.rows, currency);
      drawTop("top-influencers", influencers, "influencer_id", labels.influencers);
      drawTop("top-campaigns", campaigns, "campaign_id", labels.campaigns);
      await Promise.all([loadRuns(), loadLog()]);
      document.body.dataset.state = "ready";
    } catch (err) {
      $("error").textContent = err.message;
      document.body.dataset.state = "error";
    }
  }

  async function download() {
    try {
      const res = await api({ group_by: "day", format: "csv" });
      const name = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") || "")?.[1] || "commissions.csv";
      const url = URL.createObjectURL(await res.blob());
      const a = Object.assign(document.createElement("a"), { href: url, download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      $("error").textContent = err.message;
    }
  }

  const today = new Date();
  $("to").value = new Date(today.getTime() + 86_400_000).toISOString().slice(0, 10);
  $("from").value = new Date(today.getTime() - 29 * 86_400_000).toISOString().slice(0, 10);
  $("key").value = localStorage.getItem("reports_key") || "";
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $("download").addEventListener("click", download);
  if ($("key").value) load();
})();
