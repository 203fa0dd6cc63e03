// The live dashboard (served at /campaigns/{id}/dashboard.js; CSP forbids inline scripts).
// Every number comes as display text from the server (¥ to the fen or in 万, rates in %), so the
// page and the API show the same figures; ids only appear in tooltips.
(function () {
  const root = document.getElementById("mon");
  const ID = root.dataset.campaign, LANG = root.dataset.lang, T = JSON.parse(root.dataset.t);
  const CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const esc = s => String(s == null ? "—" : s).replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
  const $ = id => document.getElementById(id);
  const dot = st => `<span class="dot st-${esc(st)}"></span>`;
  const named = (name, id) => `<span title="${esc(id)}">${esc(name)}</span>`;
  let hasPlan = true;
  function tiles(el, rows) {
    el.innerHTML = rows.map(r => `<div class="tile st-${r.status}" id="${el.id}-${r.metric}" data-metric="${r.metric}"
      data-actual="${r.actual == null ? "" : r.actual}" data-status="${r.status}"><div class="k">${esc(r.label)}</div>
      <div class="v">${esc(r.actual_text)}</div><div class="p">${hasPlan ? `${esc(T.planc)} ${esc(r.planned_text)} · ${esc(r.attainment_text)}` : esc(T.noplan)}</div></div>`).join("");
  }
  function bounceTile(el, b) {
    el.insertAdjacentHTML("beforeend", `<div class="tile" id="${el.id}-bounce" data-metric="bounce"
      data-actual="${b.rate == null ? "" : b.rate}"><div class="k">${esc(T.bounce)}</div><div class="v">${esc(b.rate_text)}</div>
      <div class="p">${esc(T.sessions)} ${b.sessions.toLocaleString()}</div></div>`);
  }
  // a table that is a table on a wide screen and a list of cards on a phone (data-label per cell)
  function table(el, head, rows) {
    el.innerHTML = "<thead><tr>" + head.map(h => `<th>${esc(h)}</th>`).join("") + "</tr></thead><tbody>" +
      (rows.length ? rows.map(r => "<tr>" + r.map((c, i) => `<td data-label="${esc(head[i])}">${c}</td>`).join("") + "</tr>").join("")
                   : `<tr class="empty"><td colspan="${head.length}">${esc(T.nodata)}</td></tr>`) + "</tbody>";
  }
  function dimRows(rows) {
    return rows.map(r => [`${dot(r.status)} ${named(r.name, r.value)}`, esc(r.gmv_text), esc(r.plan_gmv_text),
      esc(r.attainment_text), esc(r.uv.toLocaleString()), esc(r.cvr_text), esc(r.asp_text), esc(r.roi_text)]);
  }
  function change(c) {
    if (c == null) return `<span class="up">${esc(T.fresh)}</span>`;
    if (c === 0) return "–";
    return c > 0 ? `<span class="up">↑${c}</span>` : `<span class="down">↓${-c}</span>`;
  }
  function post(path, body) {
    const headers = {"X-CSRF-Token": CSRF};
    if (body) headers["Content-Type"] = "application/json";
    return fetch(path, {method: "POST", credentials: "same-origin", headers, body: body ? JSON.stringify(body) : undefined})
      .then(r => r.ok ? r.json() : r.text().then(t => { throw new Error(t); }))
      .then(refresh).catch(e => window.alert(String(e.message || e).slice(0, 300)));
  }
  function alerts(doc) {
    const el = $("alerts");
    const cards = doc.cards.filter(c => c.status !== "resolved");
    if (!cards.length) { el.innerHTML = `<p class="quiet">${esc(T.none)}</p>`; return; }
    el.innerHTML = cards.map(c => `<article class="alert ${esc(c.severity)} ${esc(c.status)}" data-rule="${esc(c.rule_id)}" data-id="${c.id}">
      <header><b class="what">${esc(c.what)}</b><span class="badge">${esc(c.status_text)}${c.owner ? " · " + esc(c.owner) : ""}</span></header>
      <div class="meta"><span title="${esc(c.where.title)}">${esc(T.where)} <b>${esc(c.where.text)}</b></span> <span>${esc(T.since)} <b>${esc(c.since)}</b></span></div>
      ${c.cause ? `<div class="cause"><b>${esc(T.cause)}</b> ${esc(c.cause)}</div>` : ""}
      ${c.actions.length ? `<ul class="todo">${c.actions.map(a => `<li>${esc(a)}</li>`).join("")}</ul>` : ""}
      <details><summary>${esc(T.detail)}</summary><pre>${esc(c.detail)}</pre></details>
      <div class="buttons">
        ${c.status === "open" ? `<button data-act="ack">${esc(T.ack)}</button>` : ""}
        <button data-act="assign">${esc(T.assign)}</button>
        <button data-act="resolve">${esc(T.resolve)}</button>
      </div></article>`).join("");
  }
  $("alerts").addEventListener("click", e => {
    const button = e.target.closest("button[data-act]");
    if (!button) return;
    const id = button.closest("article").dataset.id, act = button.dataset.act;
    const base = `/api/monitor/${encodeURIComponent(ID)}/alerts/${id}`;
    if (act === "resolve") {  // with a note of what was done (null: the resolve was cancelled)
      const note = window.prompt(T.resolve_note, "");
      if (note !== null) post(`${base}/resolve`, {note: note.slice(0, 500)});
      return;
    }
    if (act !== "assign") { post(`${base}/${act}`); return; }
    const who = window.prompt(T.assign_to);
    if (who) post(`${base}/assign?to=${encodeURIComponent(who)}`);
  });
  function curve(doc) {
    const x = doc.curve.map(r => r.hour.slice(11, 16));
    const wan = f => f == null ? null : f / 1e6;  // fen → 万元
    const data = [{type: "bar", name: T.actual, x, y: doc.curve.map(r => wan(r.gmv_fen)),
                   marker: {color: doc.curve.map(r => ({green: "#1a9850", yellow: "#f4b400", red: "#d73027"}[r.status] || "#9ab"))},
                   hovertemplate: "%{x} ¥%{y:.2f}万<extra></extra>"},
                  {type: "scatter", mode: "lines", name: T.plan, x, y: doc.curve.map(r => wan(r.plan_gmv_fen)), line: {color: "#333", dash: "dot"},
                   hovertemplate: "%{x} " + T.plan + " ¥%{y:.2f}万<extra></extra>"}];
    Plotly.react("curve", data, {margin: {t: 10, r: 10, b: 30, l: 56}, legend: {orientation: "h"},
      yaxis: {tickprefix: "¥", ticksuffix: "万", rangemode: "tozero", tickformat: ",.2~f"}, xaxis: {tickangle: 0, nticks: 8}, font: {size: 13}},
      {displayModeBar: false, responsive: true});
  }
  function funnel(doc) {
    const top = Math.max(1, ...doc.funnel.map(s => s.count));
    $("funnel").innerHTML = doc.funnel.map(s => `<div class="step" data-step="${esc(s.step)}"><span class="fl">${esc(s.label)}</span>
      <span class="bar"><i style="width:${Math.max(1, 100 * s.count / top).toFixed(1)}%"></i></span><span class="fn">${esc(s.count_text)}</span></div>`).join("");
  }
  function risk(r) {
    const st = n => n ? "st-yellow" : "st-green";
    $("risk-tiles").innerHTML = `<div class="tile ${st(r.flagged_total)}" id="risk-fraud"><div class="k">${esc(T.flagged)}</div>
        <div class="v">${r.flagged_total.toLocaleString()} ${esc(T.accounts)}</div><div class="p">${esc(r.flagged_text || "—")}</div></div>
      <div class="tile ${st(r.bursts)}" id="risk-posts"><div class="k">${esc(T.negposts)}</div>
        <div class="v">${r.negative_hour.toLocaleString()} / ${r.posts_hour.toLocaleString()}</div>
        <div class="p">${esc(r.negative_share_text)} · ${esc(T.bursts)} ${r.bursts}</div></div>`;
    const tone = a => a === "pause" ? "st-red" : a ? "st-yellow" : "st-green";
    table($("coupon-slots"), [T.slot, T.issued, T.redeemed, T.rate, T.advice], r.coupon_slots.map(c =>
      [`${dot(tone(c.advice))} ${esc(c.slot)} <span title="${esc(c.coupon)}">${esc(c.coupon)}</span>`, esc(c.issued.toLocaleString()),
       esc(c.redeemed.toLocaleString()), esc(c.rate_text), `<b>${esc(c.advice_text)}</b>`]));
  }
  function render(doc) {
    $("mon-name").textContent = doc.campaign.name;
    $("mon-now").textContent = doc.events ? new Date(doc.now).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false}) : "—";
    $("mon-events").textContent = doc.events.toLocaleString();
    const live = $("mon-live");
    live.dataset.state = doc.status.state;
    live.textContent = "● " + doc.status.text;
    document.body.dataset.version = doc.version;
    hasPlan = doc.has_plan;
    tiles($("tiles"), doc.tiles);
    bounceTile($("tiles"), doc.bounce);
    tiles($("campaign-tiles"), doc.campaign_tiles);
    risk(doc.risk);
    const head = [T.name, T.gmv, T.planc, T.att, T.uv, T.cvr, T.asp, T.roi];
    table($("channels"), head, dimRows(doc.channels));
    table($("categories"), head, dimRows(doc.categories));
    funnel(doc);
    table($("top-skus"), [T.rank + " · " + T.sku, T.category, T.gmv, T.units, T.move, T.left], doc.top_skus.map(r =>
      [`<span class="rank">${r.rank}</span> ${named(r.name, r.sku_id)}`, esc(r.category), esc(r.gmv_text), esc(r.units.toLocaleString()),
       change(r.rank_change), r.stock_left == null ? "—" : esc(r.stock_left.toLocaleString())]));
    table($("stock"), [T.sku, T.left, T.vel, T.hours], doc.watches.stock.map(r =>
      [`${dot(r.status)} ${named(r.name, r.sku_id)}`, esc(r.stock_left.toLocaleString()), r.units_per_hour.toFixed(0),
       r.stalled ? `0 · ${esc(T.stalled)}` : r.hours_to_stockout == null ? "—" : r.hours_to_stockout.toFixed(1)]));
    table($("budget"), [T.channel, T.spent, T.pace, T.roi], doc.watches.budget.map(r =>
      [`${dot(r.status)} ${named(r.name, r.channel)}`, esc(r.spent_text), esc(r.pace_text), esc(r.roi_text)]));
    alerts(doc);
    if (window.Plotly) curve(doc);
  }
  const live = $("mon-live");
  function refresh() {
    return fetch(`/api/dashboard/${encodeURIComponent(ID)}?lang=${LANG}`, {credentials: "same-origin"})
      .then(r => r.json()).then(render).catch(() => { live.dataset.state = "off"; live.textContent = "● " + T.offline; });
  }
  refresh();
  const source = new EventSource(`/api/stream/${encodeURIComponent(ID)}?lang=${LANG}`);
  source.onmessage = e => render(JSON.parse(e.data));
  source.onerror = () => { live.dataset.state = "off"; live.textContent = "● " + T.offline; };
})();
