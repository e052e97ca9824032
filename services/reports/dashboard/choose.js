// "Choose influencers": ranks a niche's influencers by a confidence bound (GET /v1/influencers/rankings) and opens
// an influencer's scorecard (GET /v1/influencers/:id/scorecard). Names, never bare ids; money per currency.
(() => {
  const $ = (id) => document.getElementById(id);
  const esc = (s) =>
    String(s ?? "").replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );
  const pct = (bps) => (bps === null || bps === undefined ? "–" : `${(bps / 100).toFixed(2)} %`);
  const exponent = (c) =>
    new Intl.NumberFormat("en", { style: "currency", currency: c }).resolvedOptions().maximumFractionDigits;
  const money = (minor, c) => (minor === null ? "–" : `${(minor / 10 ** exponent(c)).toFixed(exponent(c))} ${c}`);
  const compact = (n) => new Intl.NumberFormat("en", { notation: "compact" }).format(n);
  const RATE_METRICS = new Set(["conversion_rate", "approval_rate", "genuine_share", "refund_rate", "consistency"]);
  let last = null;

  async function api(path) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${$("key").value}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const issues = (body.issues || []).map((i) => `${i.path}: ${i.message}`).join("; ");
      throw new Error(`${res.status} ${body.error || ""} ${body.message || ""} ${issues}`.trim());
    }
    return body;
  }

  /** Weekly non-bot clicks as a line, weeks with sales as dots. */
  function sparkline(points) {
    const w = 96;
    const h = 24;
    const max = Math.max(1, ...points.map((p) => p.clicks));
    const x = (i) => (points.length < 2 ? w / 2 : (i * (w - 4)) / (points.length - 1) + 2);
    const y = (v) => h - 2 - (v / max) * (h - 4);
    const line = points.map((p, i) => `${x(i).toFixed(1)},${y(p.clicks).toFixed(1)}`).join(" ");
    const dots = points
      .map((p, i) =>
        p.conversions > 0
          ? `<circle class="sales" cx="${x(i).toFixed(1)}" cy="${y(p.clicks).toFixed(1)}" r="2"></circle>`
          : "",
      )
      .join("");
    const title = points.map((p) => `${p.week}: ${p.clicks} clicks, ${p.conversions} sales`).join("\n");
    return `<svg class="spark" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}"><title>${esc(title)}</title><polyline points="${line}"></polyline>${dots}</svg>`;
  }

  function valueText(metric, r, currency) {
    if (RATE_METRICS.has(metric)) return pct(r.value);
    if (metric === "epc") return r.value === null ? "–" : money(Math.round(r.value), currency);
    return String(r.value ?? 0);
  }

  function boundText(metric, r, currency) {
    if (r.bound === null) return "–";
    if (metric === "refund_rate") return `≤ ${pct(Math.ceil((1 - r.bound) * 10_000))}`;
    if (RATE_METRICS.has(metric)) return `≥ ${pct(Math.floor(r.bound * 10_000))}`;
    if (metric === "epc") return `≈ ${money(Math.round(r.bound), currency)}`;
    return String(r.bound);
  }

  function drawRanking(body) {
    const m = body.metric;
    const b = body.bound;
    $("ranking-note").textContent =
      `${body.candidates} influencers in ${body.niches.join(", ")}, ${body.period.days} days to ${body.period.to.slice(0, 10)}`;
    $("bound-note").textContent =
      b.method === "shrinkage"
        ? `EPC in ${body.currency} only (never across currencies), shrunk towards the pool with ${b.prior_clicks} pseudo-clicks.`
        : b.method === "count"
          ? "Sales counted, no bound."
          : `Ranked by the 95 % Wilson ${b.method === "wilson_upper" ? "upper" : "lower"} bound after ${b.prior_trials_without_success} trials without success, so small samples cannot top large ones.` +
            (body.visibility === "merchant"
              ? ` Your campaigns in full; other merchants' only where at least ${body.min_merchants} merchants pool.`
              : "");
    const tbody = $("ranking").querySelector("tbody");
    tbody.innerHTML = body.rows
      .map(
        (r) => `<tr data-influencer="${r.influencer_id}">
          <td>${r.rank}</td>
          <td><b class="name">${esc(r.name || "(unnamed)")}</b> <span class="note">${esc(r.handle || "")}</span></td>
          <td><span class="tier">${esc(r.tier || "–")}</span></td>
          <td class="num">${r.audience_size === null ? "–" : compact(r.audience_size)}${r.audience_verified ? ' <span class="verified" title="verified">✔</span>' : ""}</td>
          <td class="num value">${valueText(m, r, body.currency)}</td>
          <td class="num bound"><span class="ci"><i></i><b></b></span>${boundText(m, r, body.currency)}</td>
          <td class="num sample">${m === "epc" ? `${r.sample.trials} clicks` : m === "conversions" ? "" : `${r.sample.successes} / ${r.sample.trials}`}</td>
          <td>${sparkline(r.sparkline || [])}</td>
          <td class="note">${esc(r.basis)}</td>
          <td><button type="button" class="open">Scorecard</button></td>
        </tr>`,
      )
      .join("");
    // interval bar: from the bound to the raw rate (CSP allows no inline style attributes, so set them here)
    for (const [i, r] of body.rows.entries()) {
      const row = tbody.children[i];
      if (!RATE_METRICS.has(m) || r.value === null || r.bound === null) {
        row.querySelector(".ci").remove();
        continue;
      }
      const lo = m === "refund_rate" ? r.value / 100 : r.bound * 100;
      const hi = m === "refund_rate" ? (1 - r.bound) * 100 : r.value / 100;
      const band = row.querySelector(".ci > i");
      band.style.left = `${Math.min(lo, hi)}%`;
      band.style.width = `${Math.max(1, Math.abs(hi - lo))}%`;
      row.querySelector(".ci > b").style.left = `${r.value / 100}%`;
    }
    for (const btn of tbody.querySelectorAll("button.open"))
      btn.addEventListener("click", () => openScorecard(Number(btn.closest("tr").dataset.influencer)));
  }

  function card(label, value, cls = "") {
    return `<div><span>${esc(label)}</span><b class="${cls}">${esc(value)}</b></div>`;
  }

  function scorecardCards(s) {
    const t = s.trend;
    const cells = [
      card("Clicks", `${s.clicks} (${pct(s.genuine_click_share_bps)} genuine)`, "sc-clicks"),
      card("Unique clicks", s.unique_clicks),
      card("Sales", s.conversions ?? "–", "sc-conversions"),
      card("Conversion rate", pct(s.conversion_rate_bps), "sc-cr"),
      card("Approval rate", pct(s.approval_rate_bps)),
      card("Refund rate", pct(s.refund_rate_bps)),
      card("Genuine sales", pct(s.genuine_conversion_share_bps)),
      card("Active weeks", `${s.active_weeks} of ${s.weeks_in_period}`),
    ];
    if (t)
      cells.push(
        card(
          "Clicks vs previous",
          t.clicks_change_bps === null ? "–" : `${t.clicks_change_bps >= 0 ? "+" : ""}${pct(t.clicks_change_bps)}`,
        ),
        card(
          "Conv. rate vs previous",
          t.conversion_rate_delta_bps === null
            ? "–"
            : `${t.conversion_rate_delta_bps >= 0 ? "+" : ""}${pct(t.conversion_rate_delta_bps)}`,
        ),
      );
    for (const m of s.money || [])
      cells.push(
        card(`Commission earned ${m.currency}`, money(m.commission_earned_minor, m.currency), "sc-money"),
        card(`Payable ${m.currency}`, money(m.commission_payable_minor, m.currency)),
        card(`EPC ${m.currency}`, money(m.epc_minor, m.currency)),
        card(`Cost per sale ${m.currency}`, money(m.cost_per_sale_minor, m.currency)),
        card(`Revenue per 1 ${m.currency} commission`, m.revenue_per_commission ?? "–"),
      );
    for (const o of s.order_values || [])
      cells.push(card(`Average order ${o.currency}`, money(o.aov_minor, o.currency)));
    return `<div class="cards">${cells.join("")}</div>`;
  }

  async function openScorecard(id) {
    try {
      const to = last.period.to.slice(0, 10);
      const from = last.period.from.slice(0, 10);
      const niche = $("niche").value;
      const s = await api(`/v1/influencers/${id}/scorecard?from=${from}&to=${to}&niche=${encodeURIComponent(niche)}`);
      $("sc-name").textContent = s.name;
      $("sc-handle").textContent =
        `${s.handle || ""} · ${s.profile ? `${s.profile.tier}, ${s.profile.niches.join(", ")}` : "no profile"} · ${niche} campaigns, ${from} to ${to}`;
      $("sc-body").innerHTML =
        s.visibility === "full"
          ? scorecardCards(s.scorecard)
          : `<h3>Your campaigns</h3>${scorecardCards(s.own_campaigns)}<h3>Other merchants (rates only)</h3>${
              s.other_merchants.withheld
                ? `<p class="note">${esc(s.other_merchants.withheld)}</p>`
                : scorecardCards(s.other_merchants)
            }`;
      $("scorecard").hidden = false;
      $("scorecard").scrollIntoView();
    } catch (err) {
      $("error").textContent = err.message;
    }
  }

  async function load() {
    document.body.dataset.state = "loading";
    $("error").textContent = "";
    localStorage.setItem("reports_key", $("key").value);
    try {
      if ($("niche").options.length === 0) {
        const { niches } = await api("/v1/niches");
        $("niche").innerHTML = niches.map((n) => `<option value="${esc(n.id)}">${esc(n.label)}</option>`).join("");
      }
      const p = new URLSearchParams({ niche: $("niche").value, metric: $("metric").value, period: $("period").value });
      if ($("to").value) p.set("to", $("to").value);
      if ($("currency").value.trim()) p.set("currency", $("currency").value.trim().toUpperCase());
      last = await api(`/v1/influencers/rankings?${p}`);
      drawRanking(last);
      document.body.dataset.state = "ready";
    } catch (err) {
      $("error").textContent = err.message;
      document.body.dataset.state = "error";
    }
  }

  $("key").value = localStorage.getItem("reports_key") || "";
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  if ($("key").value) load();
})();
