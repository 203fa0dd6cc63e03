// The campaign page's planned-GMV-per-day chart, drawn with the locally served plotly.js.
(function () {
  "use strict";
  var holder = document.getElementById("plan-chart");
  var data = document.getElementById("plan-chart-data");
  if (!holder || !data || !window.Plotly) { return; }
  var series = JSON.parse(data.textContent);
  var zh = document.documentElement.lang === "zh-CN";
  window.Plotly.newPlot(holder, [{x: series.x, y: series.y, type: "bar", marker: {color: "#c8102e"},
    hovertemplate: "%{x}<br>¥%{y:,.0f}<extra></extra>"}],
    {margin: {l: 60, r: 10, t: 10, b: 40}, yaxis: {title: zh ? "计划GMV (元)" : "Planned GMV (¥)"}},
    {responsive: true, displaylogo: false});
})();
