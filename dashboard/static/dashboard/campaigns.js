/*
 * Helios live dashboard: the Campaigns panel (issue 16), from the snapshots' `campaigns`
 * (dashboard/snapshots/shape.py, CampaignPacing). Per campaign: a spend bar (today's spend, then
 * open reservations, against the daily budget), a pacing chart (the even line from 0 at the start
 * of the ledger's day to the daily budget at its end, and the actual spend sampled by the
 * publisher), wins, win rate, average clearing CPM and late bills. Rows update in place.
 */
window.HeliosCampaigns = (() => {
  "use strict";

  const SVG = "http://www.w3.org/2000/svg";
  const W = 240;
  const H = 64;
  const intFmt = new Intl.NumberFormat("en-US");
  const pctFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
  const money = (v) => (v === null || v === undefined ? "—" : usd.format(v));

  function element(tag, className, ns) {
    const el = ns ? document.createElementNS(ns, tag) : document.createElement(tag);
    if (className) el.setAttribute("class", className);
    return el;
  }

  function figure(label, key) {
    const box = element("div", "campaign-figure");
    const h = element("h3");
    h.textContent = label;
    const v = element("p", "value");
    v.dataset[key] = "";
    box.append(h, v);
    return box;
  }

  function build(c) {
    const row = element("article", "campaign");
    row.dataset.campaignId = String(c.campaign_id);
    const head = element("header");
    const name = element("h3", "campaign-name");
    const spend = element("span", "hint campaign-spend");
    head.append(name, spend);
    const bar = element("div", "spend-bar");
    bar.setAttribute("role", "meter");
    bar.append(element("span", "spent"), element("span", "reserved"));
    const svg = element("svg", "pacing-chart", SVG);
    svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.append(element("polyline", "target", SVG), element("polyline", "actual", SVG), element("line", "now", SVG));
    const figures = element("div", "campaign-figures");
    figures.append(figure("Wins", "wins"), figure("Win rate", "winRate"), figure("Avg clearing CPM", "cpm"), figure("Late bills", "late"));
    row.append(head, bar, svg, figures);
    return row;
  }

  const setText = (el, text) => {
    if (el.textContent !== text) el.textContent = text;
  };

  function drawPacing(svg, c, now) {
    const start = c.day_started_at;
    const end = start + c.day_s;
    const points = [{ t: start, spent: 0 }, ...c.history.map((p) => ({ t: p.t, spent: p.spent })).filter((p) => p.t >= start)];
    const top = Math.max(c.daily_budget, ...points.map((p) => p.spent)) || 1;
    const x = (t) => (W * Math.min(Math.max(t - start, 0), c.day_s)) / c.day_s;
    const y = (v) => H - (H * v) / top;
    const xy = (t, v) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`;
    svg.querySelector(".target").setAttribute("points", `${xy(start, 0)} ${xy(end, c.daily_budget)}`);
    svg.querySelector(".actual").setAttribute("points", points.map((p) => xy(p.t, p.spent)).join(" "));
    const line = svg.querySelector(".now");
    const nowX = x(Math.min(now, end)).toFixed(1);
    for (const [k, v] of [["x1", nowX], ["x2", nowX], ["y1", 0], ["y2", H]]) line.setAttribute(k, String(v));
    svg.setAttribute("aria-label", `Pacing of ${c.name}: target vs actual spend today`);
  }

  function update(row, c, now) {
    setText(row.querySelector(".campaign-name"), c.name);
    const spent = c.spend_today || 0;
    const reserved = c.reserved || 0;
    const target = c.pacing_target === null ? "" : ` · target now ${money(c.pacing_target)}`;
    setText(row.querySelector(".campaign-spend"), `${money(c.spend_today)} + ${money(c.reserved)} reserved of ${money(c.daily_budget)} today${target}`);
    const bar = row.querySelector(".spend-bar");
    const share = (v) => Math.min((100 * v) / c.daily_budget, 100);
    bar.dataset.spent = String(spent);
    bar.setAttribute("aria-valuenow", String(spent));
    bar.setAttribute("aria-valuemax", String(c.daily_budget));
    bar.querySelector(".spent").style.width = `${share(spent).toFixed(2)}%`;
    bar.querySelector(".reserved").style.width = `${Math.min(share(reserved), 100 - share(spent)).toFixed(2)}%`;
    drawPacing(row.querySelector(".pacing-chart"), c, now);
    setText(row.querySelector("[data-wins]"), `${intFmt.format(c.wins)} of ${intFmt.format(c.bids)}`);
    setText(row.querySelector("[data-win-rate]"), `${pctFmt.format(c.win_rate)}%`);
    setText(row.querySelector("[data-cpm]"), money(c.average_clearing_cpm));
    setText(row.querySelector("[data-late]"), c.late_bills === null ? "—" : intFmt.format(c.late_bills));
  }

  /** Shows `campaigns` (a snapshot's list; null: keep what is shown) in `root` at server time `now`. */
  function render(root, campaigns, now) {
    if (!campaigns) return;
    const list = root.querySelector(".campaign-list");
    const seen = new Set();
    for (const c of campaigns) {
      const id = String(c.campaign_id);
      seen.add(id);
      let row = list.querySelector(`[data-campaign-id="${id}"]`);
      if (!row) row = list.appendChild(build(c));
      update(row, c, now);
    }
    for (const row of [...list.children]) if (!seen.has(row.dataset.campaignId)) row.remove();
    root.querySelector(".campaign-empty").hidden = campaigns.length > 0;
  }

  return { render };
})();
