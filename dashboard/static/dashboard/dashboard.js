/*
 * Helios live dashboard (SPEC §8).
 *
 * Cards and charts come only from the websocket's stats snapshots (dashboard/snapshots/, shape.Snapshot): no
 * polling. The outcomes table is the REST API (/api/outcomes/, same-origin credentials) and is
 * refetched when a snapshot says outcomes were stored (at most once a second, first page only,
 * while "Follow live" is on). Everything updates in place: no flicker, inputs keep their values.
 * The websocket reconnects by itself with capped exponential back-off.
 */
(() => {
  "use strict";

  const config = JSON.parse(document.getElementById("dashboard-config").textContent);
  const BIN_S = config.seriesBinS;
  const BINS = config.seriesBins;
  const SOURCE_STALE_S = 15; // a publisher not heard from for this long no longer counts
  const TABLE_REFRESH_MIN_MS = 750;
  const RECONNECT_MIN_MS = 500;
  const RECONNECT_MAX_MS = 10000;

  const $ = (selector, root = document) => root.querySelector(selector);
  const intFmt = new Intl.NumberFormat("en-US");
  const pctFmt = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const rateFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });
  const moneyFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  const priceFmt = new Intl.NumberFormat("en-US", {
    style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4,
  });
  const timeFmt = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });

  const fmtMoney = (v) => moneyFmt.format(Number(v));
  const fmtPrice = (v) => priceFmt.format(Number(v));
  const fmtLatency = (s) => {
    if (s === null || s === undefined) return "—";
    if (s < 1) return `${Math.round(s * 1000)} ms`;
    return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  };
  const setText = (el, text) => {
    if (el && el.textContent !== text) el.textContent = text;
  };
  /** A card's figure, shrunk until it fits its card (revenue in the millions stays whole). */
  const setValue = (el, text) => {
    if (el.textContent === text) return;
    el.textContent = text;
    el.style.fontSize = "";
    let size = parseFloat(getComputedStyle(el).fontSize);
    while (el.scrollWidth > el.clientWidth && size > 14) {
      size -= 1;
      el.style.fontSize = `${size}px`;
    }
  };

  // ---------------------------------------------------------------- state from the snapshots

  const state = {
    totals: null,
    totalsAt: 0,
    sources: new Map(), // source -> {rolling, receivedAt}
    bins: new Map(), // bin start (server epoch s) -> {count, wins, histogram}
    initialAt: 0,
    clockOffsetS: 0, // server time - local time
    lastSnapshotAt: null,
  };
  const serverNow = () => Date.now() / 1000 + state.clockOffsetS;
  const binOf = (t) => Math.floor(t / BIN_S) * BIN_S;
  const emptyBin = () => ({ count: 0, wins: 0, histogram: new Array(config.priceBuckets.length).fill(0) });

  function applySnapshot(snap) {
    state.clockOffsetS = snap.at - Date.now() / 1000;
    state.lastSnapshotAt = snap.at;
    if (snap.totals && snap.at >= state.totalsAt) {
      state.totals = snap.totals;
      state.totalsAt = snap.at;
    }
    if (snap.kind === "initial") {
      state.bins = new Map();
      for (const bin of snap.series || []) {
        state.bins.set(bin.t, { count: bin.count, wins: bin.wins, histogram: bin.histogram.slice() });
      }
      state.initialAt = snap.at;
      state.sources = new Map([[snap.source, { rolling: snap.rolling, rtb: snap.rtb || null, receivedAt: snap.at }]]);
    } else {
      state.sources.delete("database"); // a live publisher now speaks for the pipeline
      state.sources.set(snap.source, { rolling: snap.rolling, rtb: snap.rtb || null, receivedAt: snap.at });
      const w = snap.window;
      // A window that ended before the initial read is in its series already.
      if (w && w.count > 0 && w.end > state.initialAt) {
        const t = binOf(w.end);
        const bin = state.bins.get(t) || emptyBin();
        bin.count += w.count;
        bin.wins += w.wins;
        w.histogram.forEach((n, i) => { bin.histogram[i] += n; });
        state.bins.set(t, bin);
      }
    }
    const oldest = binOf(serverNow()) - (BINS - 1) * BIN_S;
    for (const t of state.bins.keys()) if (t < oldest) state.bins.delete(t);
  }

  function liveSources() {
    const now = serverNow();
    return [...state.sources.values()].filter((s) => now - s.receivedAt < SOURCE_STALE_S);
  }

  /** Rolling figures over every live publisher: rates add up; latency p50 weighted, p99 worst. */
  function rollingFigures() {
    const sources = liveSources();
    const perSecond = sources.reduce((sum, s) => sum + s.rolling.per_second, 0);
    const measured = sources.filter((s) => s.rolling.latency_p50_s !== null && s.rolling.outcomes > 0);
    if (!measured.length) return { perSecond, p50: null, p99: null, horizon: config.rollingHorizonS };
    const weight = measured.reduce((sum, s) => sum + s.rolling.outcomes, 0);
    const p50 = measured.reduce((sum, s) => sum + s.rolling.latency_p50_s * s.rolling.outcomes, 0) / weight;
    const p99 = Math.max(...measured.map((s) => s.rolling.latency_p99_s));
    return { perSecond, p50, p99, horizon: config.rollingHorizonS };
  }

  /**
   * The RTB panel over every live publisher: counts add up (no-bid codes and campaigns merged),
   * latency p50 weighted by outcomes, p99 the worst.
   */
  function rtbFigures() {
    const panels = liveSources().map((s) => s.rtb).filter(Boolean);
    const total = { horizon: null, outcomes: 0, bids: 0, late: 0, p50: null, p99: null, noBids: new Map(), campaigns: new Map() };
    let weight = 0;
    let weighted = 0;
    for (const p of panels) {
      total.horizon = p.horizon_s;
      total.outcomes += p.outcomes;
      total.bids += p.bids;
      total.late += p.late;
      if (p.latency_p50_ms !== null && p.outcomes > 0) {
        weight += p.outcomes;
        weighted += p.latency_p50_ms * p.outcomes;
        total.p99 = Math.max(total.p99 === null ? 0 : total.p99, p.latency_p99_ms);
      }
      for (const n of p.no_bids) {
        const row = total.noBids.get(n.nbr) || { reason: n.reason, count: 0 };
        row.count += n.count;
        total.noBids.set(n.nbr, row);
      }
      for (const c of p.campaigns) {
        const row = total.campaigns.get(c.campaign_id) || { name: c.name, bids: 0 };
        row.bids += c.bids;
        total.campaigns.set(c.campaign_id, row);
      }
    }
    if (weight) total.p50 = weighted / weight;
    return total;
  }

  const fmtMs = (v) => (v === null || v === undefined ? "—" : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`);

  function fillTable(tbody, rows, emptyText, columns) {
    const key = JSON.stringify(rows);
    if (tbody.dataset.key === key) return; // unchanged: no DOM work, no flicker
    tbody.dataset.key = key;
    if (!rows.length) {
      const tr = document.createElement("tr");
      const td = cell(emptyText, "empty");
      td.colSpan = columns;
      tr.append(td);
      tbody.replaceChildren(tr);
      return;
    }
    tbody.replaceChildren(...rows.map((values) => {
      const tr = document.createElement("tr");
      values.forEach(([text, className]) => tr.append(cell(text, className)));
      return tr;
    }));
  }

  function cell(text, className) {
    const td = document.createElement("td");
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function renderRtb() {
    const r = rtbFigures();
    setText($("#rtb-hint"), r.horizon === null ? "POST /openrtb2/bid" : `POST /openrtb2/bid · last ${r.horizon} s`);
    setText($("#rtb-p50 [data-value]"), fmtMs(r.p50));
    setText($("#rtb-p99 [data-value]"), fmtMs(r.p99));
    setText($("#rtb-late [data-value]"), intFmt.format(r.late));
    setText($("#rtb-late [data-sub]"), r.outcomes ? `of ${intFmt.format(r.outcomes)} answers` : "no answers");
    $("#rtb-late").dataset.late = String(r.late > 0);
    setText($("#rtb-bids [data-value]"), intFmt.format(r.bids));
    const noBids = r.outcomes - r.bids;
    setText($("#rtb-bids [data-sub]"), r.outcomes ? `${pctFmt.format((100 * r.bids) / r.outcomes)}% bid rate` : "\u00a0");
    fillTable(
      $("#rtb-no-bids tbody"),
      [...r.noBids.entries()].sort((a, b) => a[0] - b[0]).map(([nbr, n]) => [[String(nbr), "mono"], [n.reason], [intFmt.format(n.count), "num"]]),
      noBids > 0 ? "no reason recorded" : "no no-bids",
      3,
    );
    fillTable(
      $("#rtb-campaigns tbody"),
      [...r.campaigns.values()].sort((a, b) => b.bids - a.bids || a.name.localeCompare(b.name)).map((c) => [[c.name], [intFmt.format(c.bids), "num"]]),
      "no bids",
      2,
    );
  }

  // ---------------------------------------------------------------- cards

  const card = (id) => ({ value: $(`#${id} [data-value]`), sub: $(`#${id} [data-sub]`) });
  const cards = {
    total: card("card-total"),
    wins: card("card-wins"),
    winRate: card("card-win-rate"),
    revenue: card("card-revenue"),
    avgBid: card("card-avg-bid"),
    rate: card("card-rate"),
    p50: card("card-p50"),
    p99: card("card-p99"),
  };

  function renderCards() {
    const t = state.totals;
    if (t) {
      setValue(cards.total.value, intFmt.format(t.total_outcomes));
      const enriched = t.total_outcomes ? (100 * t.enriched_count) / t.total_outcomes : 0;
      setText(cards.total.sub, `${pctFmt.format(enriched)}% enriched`);
      setValue(cards.wins.value, intFmt.format(t.total_wins));
      setText(cards.wins.sub, `${intFmt.format(t.total_losses)} lost`);
      setValue(cards.winRate.value, `${pctFmt.format(t.win_rate)}%`);
      setValue(cards.revenue.value, fmtMoney(t.total_revenue));
      setText(cards.revenue.sub, `avg win ${fmtPrice(t.average_win_price)}`);
      setValue(cards.avgBid.value, fmtPrice(t.average_bid_price));
      setText(cards.avgBid.sub, "per bid response");
    }
    const recent = windowTotals();
    setText(cards.winRate.sub, recent.count ? `last 5 min ${pctFmt.format((100 * recent.wins) / recent.count)}%` : "last 5 min —");
    const r = rollingFigures();
    setValue(cards.rate.value, rateFmt.format(r.perSecond));
    setText(cards.rate.sub, `last ${r.horizon} s`);
    setValue(cards.p50.value, fmtLatency(r.p50));
    setText(cards.p50.sub, "received → stored");
    setValue(cards.p99.value, fmtLatency(r.p99));
    setText(cards.p99.sub, `last ${r.horizon} s`);
    if (state.lastSnapshotAt) setText($("#updated-at"), timeFmt.format(new Date(state.lastSnapshotAt * 1000)));
  }

  function windowTotals() {
    let count = 0;
    let wins = 0;
    for (const bin of state.bins.values()) {
      count += bin.count;
      wins += bin.wins;
    }
    return { count, wins };
  }

  // ---------------------------------------------------------------- charts (Chart.js, no animation)

  const css = getComputedStyle(document.documentElement);
  const color = (name) => css.getPropertyValue(name).trim();
  const charts = {};

  function makeCharts() {
    if (typeof Chart === "undefined") throw new Error("Chart.js did not load");
    Chart.defaults.animation = false;
    Chart.defaults.color = color("--muted");
    Chart.defaults.borderColor = "rgba(154, 168, 192, 0.14)";
    Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    Chart.defaults.font.size = 11.5;
    Chart.defaults.maintainAspectRatio = false;
    Chart.defaults.plugins.legend.display = false;
    Chart.defaults.plugins.tooltip.intersect = false;
    Chart.defaults.plugins.tooltip.mode = "index";
    const timeAxis = { ticks: { maxRotation: 0, autoSkip: true, maxTicksLimit: 6 }, grid: { display: false } };

    charts.prices = new Chart($("#chart-prices"), {
      type: "bar",
      data: {
        // "0.25-0.50" on two lines, so that the axis needs no rotation
        labels: config.priceBuckets.map((label) => (label.includes("-") ? label.split("-").map((p, i) => (i ? `– ${p}` : p)) : label)),
        datasets: [{ label: "bids", data: config.priceBuckets.map(() => 0), backgroundColor: color("--accent"), borderRadius: 3 }],
      },
      options: {
        scales: { x: { grid: { display: false }, ticks: { maxRotation: 0, autoSkip: false } }, y: { beginAtZero: true, ticks: { precision: 0 } } },
        plugins: { tooltip: { callbacks: { title: (items) => `$${config.priceBuckets[items[0].dataIndex]}` } } },
      },
    });
    charts.winRate = new Chart($("#chart-win-rate"), {
      type: "line",
      data: { labels: [], datasets: [{ label: "win rate %", data: [], borderColor: color("--win"), fill: false, pointRadius: 2, pointHoverRadius: 4, borderWidth: 2, tension: 0.25, spanGaps: false }] },
      options: { scales: { x: timeAxis, y: { min: 0, max: 100, ticks: { callback: (v) => `${v}%` } } } },
    });
    charts.throughput = new Chart($("#chart-throughput"), {
      type: "line",
      data: { labels: [], datasets: [{ label: "bids/s", data: [], borderColor: color("--violet"), backgroundColor: "rgba(167, 139, 250, 0.14)", fill: true, pointRadius: 0, borderWidth: 2, tension: 0.25 }] },
      options: { scales: { x: timeAxis, y: { beginAtZero: true } } },
    });
  }

  function renderCharts() {
    if (!charts.prices) return;
    const current = binOf(serverNow());
    const labels = [];
    const winRates = [];
    const throughput = [];
    const histogram = new Array(config.priceBuckets.length).fill(0);
    for (let i = BINS - 1; i >= 0; i -= 1) {
      const t = current - i * BIN_S;
      const bin = state.bins.get(t);
      labels.push(timeFmt.format(new Date(t * 1000)));
      // The bin in progress is scaled by the time it has covered so far (at least a second).
      const span = t === current ? Math.max(Math.min(serverNow() - t, BIN_S), 1) : BIN_S;
      throughput.push(bin ? Math.round((10 * bin.count) / span) / 10 : 0);
      winRates.push(bin && bin.count ? Math.round((1000 * bin.wins) / bin.count) / 10 : null);
      if (bin) bin.histogram.forEach((n, k) => { histogram[k] += n; });
    }
    replaceData(charts.prices, null, histogram);
    replaceData(charts.winRate, labels, winRates);
    replaceData(charts.throughput, labels, throughput);
  }

  function replaceData(chart, labels, data) {
    const dataset = chart.data.datasets[0];
    const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
    if (same(dataset.data, data) && (!labels || same(chart.data.labels, labels))) return;
    if (labels) chart.data.labels = labels;
    dataset.data = data;
    chart.update("none");
  }

  // ---------------------------------------------------------------- websocket with back-off

  const statusEl = $("#status");
  const statusText = $("#status-text");
  let socket = null;
  let attempts = 0;
  let reconnectTimer = null;

  function setStatus(kind, text) {
    if (statusEl.dataset.state !== kind) statusEl.dataset.state = kind;
    setText(statusText, text);
  }

  function connect() {
    reconnectTimer = null;
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + config.websocketPath);
    socket.addEventListener("open", () => {
      attempts = 0;
      setStatus("live", "Live");
    });
    socket.addEventListener("message", (event) => {
      let snap;
      try {
        snap = JSON.parse(event.data);
      } catch (err) {
        console.warn("dashboard: ignoring a message that is not JSON", err);
        return;
      }
      onSnapshot(snap);
    });
    socket.addEventListener("close", () => {
      socket = null;
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    attempts += 1;
    const ceiling = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** (attempts - 1));
    const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2); // jitter: reconnects spread out
    setStatus("reconnecting", `Reconnecting in ${Math.max(1, Math.round(delay / 1000))} s…`);
    reconnectTimer = setTimeout(connect, delay);
    if (attempts === 4) checkSignedIn();
  }

  /** A refused websocket looks like a dead server; if the page itself now asks for a login, go there. */
  async function checkSignedIn() {
    try {
      const response = await fetch(location.pathname, { credentials: "same-origin", redirect: "manual" });
      if (response.type === "opaqueredirect") location.reload();
    } catch (err) {
      // The server is down: keep reconnecting.
    }
  }

  function onSnapshot(snap) {
    applySnapshot(snap);
    renderCards();
    renderRtb();
    window.HeliosCampaigns.render($("#campaigns"), snap.campaigns || null, snap.at);
    renderCharts();
    const stored = snap.kind === "initial" || (snap.window && snap.window.count > 0);
    if (stored) table.outcomesArrived(snap.kind === "initial");
  }

  // ---------------------------------------------------------------- the outcomes table (REST API)

  const table = (() => {
    const form = $("#filters");
    const body = $("#outcomes tbody");
    const message = $("#table-message");
    const summary = $("#table-summary");
    const live = $("#table-live");
    const prev = $("#page-prev");
    const next = $("#page-next");
    const pageLabel = $("#page-label");
    const headers = [...document.querySelectorAll("#outcomes th[data-order]")];
    const FIELDS = ["search", "user_id", "site_domain", "win_status", "price_on", "price_min", "price_max"];
    let page = 1;
    let ordering = "-timestamp";
    let seq = 0;
    let controller = null;
    let inFlight = false;
    let pending = false;
    let lastFetch = 0;
    let refreshTimer = null;
    let seen = null; // ids of the rows shown, when the next load is a live refresh of the same query
    let debounce = null;

    function restoreFromUrl() {
      const params = new URLSearchParams(location.search);
      for (const name of FIELDS) if (params.has(name)) form.elements[name].value = params.get(name);
      page = Math.max(1, parseInt(params.get("page") || "1", 10) || 1);
      ordering = params.get("ordering") || ordering;
    }

    function saveToUrl() {
      const params = new URLSearchParams();
      for (const name of FIELDS) {
        const value = form.elements[name].value.trim();
        if (value && !(name === "price_on" && value === "bid")) params.set(name, value);
      }
      if (page > 1) params.set("page", String(page));
      if (ordering !== "-timestamp") params.set("ordering", ordering);
      const query = params.toString();
      history.replaceState(null, "", query ? `?${query}` : location.pathname);
    }

    function apiQuery() {
      const v = (name) => form.elements[name].value.trim();
      const params = new URLSearchParams({ page: String(page), page_size: String(config.pageSize), ordering });
      for (const name of ["search", "user_id", "site_domain", "win_status"]) if (v(name)) params.set(name, v(name));
      const [low, high] = v("price_on") === "win" ? ["min_price", "max_price"] : ["min_bid", "max_bid"];
      if (v("price_min")) params.set(low, v("price_min"));
      if (v("price_max")) params.set(high, v("price_max"));
      return params;
    }

    function showMessage(text, isError, html) {
      message.hidden = !text;
      message.classList.toggle("error", Boolean(isError));
      if (html) message.innerHTML = html;
      else setText(message, text || "");
    }

    async function load() {
      if (controller) controller.abort();
      controller = new AbortController();
      const mySeq = ++seq;
      inFlight = true;
      pending = false;
      lastFetch = Date.now();
      try {
        const response = await fetch(`${config.outcomesApi}?${apiQuery()}`, {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
          signal: controller.signal,
        });
        if (mySeq !== seq) return;
        const data = await response.json().catch(() => null);
        if (mySeq !== seq) return;
        if (response.status === 401 || response.status === 403) {
          render(null);
          showMessage("", true, `Sign in to see outcomes: <a href="/admin/login/?next=${encodeURIComponent(location.pathname)}">log in</a>.`);
        } else if (response.status === 404 && page > 1) {
          page = 1; // the page went away (fewer results now): back to the first one
          saveToUrl();
          pending = true;
        } else if (!response.ok || !data) {
          render(null);
          showMessage(`The outcomes API answered ${response.status}: ${describeError(data)}`, true);
        } else {
          render(data);
        }
      } catch (err) {
        if (err.name === "AbortError") return;
        showMessage("The outcomes API is unreachable; it is tried again with the next update.", true);
      } finally {
        if (mySeq === seq) {
          inFlight = false;
          if (pending) schedule();
        }
      }
    }

    function describeError(data) {
      if (!data || typeof data !== "object") return "no details";
      return Object.entries(data)
        .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : value}`)
        .join("; ");
    }

    function cell(text, className) {
      const td = document.createElement("td");
      if (className) td.className = className;
      td.textContent = text;
      return td;
    }

    // An RTB bid's status comes from the exchange's notices (SPEC §14); a `POST /bid` outcome has
    // none: its simulated auction won or lost it.
    const STATE_LABELS = {
      won: "Won", lost: "Lost", pending: "Pending", billed: "Billed", expired: "Expired", no_bid: "No bid",
    };
    function outcomeState(o) {
      return o.status || (o.win_status ? "won" : "lost");
    }

    function render(data) {
      const results = data ? data.results : [];
      // Rows that arrived since the last refresh flash once; when most of the page is new (a high
      // bid rate), nothing flashes: a whole table blinking twice a second helps nobody.
      const fresh = seen ? results.filter((o) => !seen.has(o.id)).length : 0;
      const flash = fresh > 0 && fresh <= results.length / 3;
      const rows = results.map((o) => {
        const tr = document.createElement("tr");
        tr.dataset.id = String(o.id);
        if (flash && !seen.has(o.id)) tr.className = "fresh";
        const when = new Date(o.timestamp);
        const time = cell(timeFmt.format(when));
        time.title = when.toISOString();
        const result = document.createElement("td");
        const badge = document.createElement("span");
        const state = outcomeState(o);
        badge.className = `badge ${state}`;
        badge.textContent = STATE_LABELS[state] || state;
        result.append(badge);
        tr.append(
          time,
          cell(o.bid_id, "mono"),
          cell(o.imp_id, "mono muted"),
          cell(o.user_id || "—", o.user_id ? "" : "muted"),
          cell(o.site_domain || "—", o.site_domain ? "" : "muted"),
          cell(fmtPrice(o.bid_price), "num"),
          cell(o.win_status ? fmtPrice(o.win_price) : "—", o.win_status ? "num" : "num muted"),
          result,
          cell(o.enriched ? "yes" : "no", o.enriched ? "" : "muted"),
        );
        return tr;
      });
      body.replaceChildren(...rows);
      seen = data ? new Set(results.map((o) => o.id)) : null;
      if (!data) {
        setText(summary, "\u00a0");
        setText(pageLabel, "\u00a0");
        prev.disabled = next.disabled = true;
        return;
      }
      const pages = Math.max(1, Math.ceil(data.count / config.pageSize));
      setText(summary, `${intFmt.format(data.count)} matching`);
      setText(pageLabel, `Page ${intFmt.format(page)} of ${intFmt.format(pages)}`);
      prev.disabled = !data.previous;
      next.disabled = !data.next;
      showMessage(results.length ? "" : "No outcomes match these filters yet.", false);
    }

    function schedule() {
      if (refreshTimer) return;
      const wait = Math.max(0, lastFetch + TABLE_REFRESH_MIN_MS - Date.now());
      refreshTimer = setTimeout(() => {
        refreshTimer = null;
        load();
      }, wait);
    }

    function refreshSoon() {
      if (inFlight) pending = true;
      else schedule();
    }

    /** Another query (filters, page, order): its rows are not "new", so none is highlighted. */
    function queryChanged() {
      seen = null;
    }

    function filtersChanged() {
      queryChanged();
      page = 1;
      saveToUrl();
      clearTimeout(debounce);
      debounce = setTimeout(load, 250);
    }

    function renderSort() {
      for (const th of headers) {
        const field = th.dataset.order;
        const sort = ordering === field ? "ascending" : ordering === `-${field}` ? "descending" : null;
        if (sort) th.setAttribute("aria-sort", sort);
        else th.removeAttribute("aria-sort");
      }
    }

    form.addEventListener("input", filtersChanged);
    form.addEventListener("change", filtersChanged);
    form.addEventListener("submit", (event) => event.preventDefault());
    form.addEventListener("reset", () => setTimeout(filtersChanged, 0)); // after the reset applied
    prev.addEventListener("click", () => { queryChanged(); page = Math.max(1, page - 1); saveToUrl(); load(); });
    next.addEventListener("click", () => { queryChanged(); page += 1; saveToUrl(); load(); });
    live.addEventListener("change", () => { if (live.checked && page === 1) load(); });
    for (const th of headers) {
      th.addEventListener("click", () => {
        const field = th.dataset.order;
        ordering = ordering === `-${field}` ? field : `-${field}`;
        queryChanged();
        page = 1;
        renderSort();
        saveToUrl();
        load();
      });
    }

    restoreFromUrl();
    renderSort();

    return {
      start: load,
      /** Outcomes were stored: refetch the first page (throttled), unless the user looks elsewhere. */
      outcomesArrived(force) {
        if (force || (live.checked && page === 1)) refreshSoon();
      },
    };
  })();

  // ---------------------------------------------------------------- start

  try {
    makeCharts();
  } catch (err) {
    console.error("dashboard: charts unavailable:", err);
  }
  renderCards();
  renderRtb();
  renderCharts();
  table.start();
  connect();
  // Slide the charts' time axis and age out silent publishers between snapshots (no network).
  setInterval(() => {
    renderCards();
    renderRtb();
    renderCharts();
  }, 1000);
})();
