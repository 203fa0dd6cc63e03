// The live dashboard (served at /campaigns/{id}/dashboard.js; CSP forbids inline scripts).
(function () {
  const root = document.getElementById("mon");
  const ID = root.dataset.campaign, LANG = root.dataset.lang, T = JSON.parse(root.dataset.t);
  const esc = s => String(s == null ? "—" : s).replace(/[&<>"']/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;","'":"&#39;"}[c]));
  const pct = v => v == null ? "—" : (v * 100).toFixed(1) + "%";
  const yuan = f => f == null ? "—" : "¥" + (f / 100 >= 1e4 && LANG === "zh" ? (f / 1e6).toFixed(2) + "万" : (f / 100).toLocaleString());
  function tiles(el, rows) {
    el.innerHTML = rows.map(r => `<div class="tile st-${r.status}" id="${el.id}-${r.metric}" data-metric="${r.metric}"
      data-actual="${r.actual == null ? "" : r.actual}" data-status="${r.status}"><div>${esc(r.label)}</div>
      <div class="v">${esc(r.actual_text)}</div><div class="p">${T.planc} ${esc(r.planned_text)} · ${esc(r.attainment_text)}</div></div>`).join("");
  }
  function table(el, head, rows) {
    el.innerHTML = "<tr>" + head.map(h => `<th>${esc(h)}</th>`).join("") + "</tr>" +
      rows.map(r => "<tr>" + r.map(c => `<td>${c}</td>`).join("") + "</tr>").join("");
  }
  function dimRows(rows) {
    return rows.map(r => [`<span class="dot st-${r.status}"></span> ${esc(r.name)}`, esc(r.gmv_text), yuan(r.plan_gmv_fen),
      pct(r.attainment), esc(r.uv), esc(r.cvr_text), esc(r.asp_text), r.roi == null ? "—" : r.roi.toFixed(2)]);
  }
  function alerts(doc) {
    const el = document.getElementById("alerts");
    const feed = doc.feed.filter(f => f.kind !== "resolved");
    if (!feed.length) { el.innerHTML = `<p>${esc(T.none)}</p>`; return; }
    el.innerHTML = feed.map(f => {
      const c = f.root_cause && f.root_cause.culprit;
      const cause = c ? `<div class="cause"><b>${esc(T.cause)}</b> ${esc(c.dimension)}=<b class="culprit">${esc(c.value)}</b> ${c.signal ? `(${esc(c.signal)})` : `(EP ${pct(c.ep)})`}</div>` : "";
      const pb = f.playbook ? `<div><b>${esc(T.pb)}</b><ul>` + f.playbook.actions.map(a =>
        `<li>${esc(LANG === "zh" ? a.zh : a.en)} ${esc(LANG === "zh" ? a.expected_zh : a.expected_en) || ""}</li>`).join("") + "</ul></div>" : "";
      return `<div class="alert ${esc(f.severity)}" data-rule="${esc(f.rule_id)}"><b>${esc(f.title)}</b><pre>${esc(f.body)}</pre>${cause}${pb}</div>`;
    }).join("");
  }
  function curve(doc) {
    const x = doc.curve.map(r => r.hour.slice(11, 16));
    const data = [{type: "bar", name: T.actual, x, y: doc.curve.map(r => r.gmv_fen == null ? null : r.gmv_fen / 100),
                   marker: {color: doc.curve.map(r => ({green: "#1a9850", yellow: "#f4b400", red: "#d73027"}[r.status] || "#9ab"))}},
                  {type: "scatter", mode: "lines", name: T.plan, x, y: doc.curve.map(r => r.plan_gmv_fen / 100), line: {color: "#333", dash: "dot"}}];
    Plotly.react("curve", data, {margin: {t: 10, r: 10, b: 30, l: 60}, legend: {orientation: "h"}}, {displayModeBar: false, responsive: true});
  }
  function render(doc) {
    document.getElementById("mon-name").textContent = doc.campaign.name;
    document.getElementById("mon-now").textContent = new Date(doc.now).toLocaleString("zh-CN", {timeZone: "Asia/Shanghai", hour12: false});
    document.getElementById("mon-events").textContent = doc.events.toLocaleString();
    document.body.dataset.version = doc.version;
    tiles(document.getElementById("tiles"), doc.tiles);
    tiles(document.getElementById("campaign-tiles"), doc.campaign_tiles);
    const head = [T.name, T.gmv, T.planc, T.att, T.uv, T.cvr, T.asp, T.roi];
    table(document.getElementById("channels"), head, dimRows(doc.channels));
    table(document.getElementById("categories"), head, dimRows(doc.categories));
    const top = Math.max(1, ...doc.funnel.map(s => s.count));
    document.getElementById("funnel").innerHTML = doc.funnel.map(s =>
      `<div style="width:${Math.max(8, 100 * s.count / top)}%">${esc(s.label)} ${s.count.toLocaleString()}</div>`).join("");
    table(document.getElementById("stock"), [T.sku, T.left, T.vel, T.hours], doc.watches.stock.map(r =>
      [`<span class="dot st-${r.status}"></span> ${esc(r.sku_id)}`, r.stock_left, r.units_per_hour.toFixed(0),
       r.stalled ? `0 · ${esc(T.stalled)}` :
       r.hours_to_stockout == null ? "—" : r.hours_to_stockout.toFixed(1)]));
    table(document.getElementById("budget"), [T.channel, T.spent, T.pace, T.roi], doc.watches.budget.map(r =>
      [`<span class="dot st-${r.status}"></span> ${esc(r.channel)}`, yuan(r.spent_fen), pct(r.pace), r.roi == null ? "—" : r.roi.toFixed(2)]));
    alerts(doc);
    if (window.Plotly) curve(doc);
  }
  const live = document.getElementById("mon-live");
  fetch(`/api/dashboard/${encodeURIComponent(ID)}?lang=${LANG}`, {credentials: "same-origin"})
    .then(r => r.json()).then(render).catch(() => live.classList.add("off"));
  const source = new EventSource(`/api/stream/${encodeURIComponent(ID)}?lang=${LANG}`);
  source.onmessage = e => { live.classList.remove("off"); render(JSON.parse(e.data)); };
  source.onerror = () => live.classList.add("off");
})();
