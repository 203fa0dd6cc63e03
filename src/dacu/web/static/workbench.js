// The workbench page: what-if sliders on the plan (GMV = UV × CVR × ASP) and background jobs.
"use strict";

// The one place the what-if is computed (swap for the plan stage's what-if when it lands).
function whatIf(cell, change) {
  const uv = cell.uv * (1 + change.uv);
  const cvr = Math.max(0, cell.cvr + change.cvrPoints);
  const aspFen = cell.asp_fen * (1 + change.asp);
  return { uv: uv, cvr: cvr, asp_fen: aspFen, gmv_fen: uv * cvr * aspFen };
}

function yuan(fen) {  // ¥ with 万/亿, as everywhere in the Chinese UI
  const y = fen / 100, a = Math.abs(y);
  if (a >= 1e8) return "¥" + (y / 1e8).toFixed(2) + "亿";
  if (a >= 1e4) return "¥" + (y / 1e4).toFixed(2) + "万";
  return "¥" + Math.round(y).toLocaleString("zh-CN");
}

function initWhatIf() {
  const box = document.getElementById("whatif");
  if (!box) return;
  const base = JSON.parse(box.dataset.base);
  const rows = [...base.phases, base.total];
  const uv = document.getElementById("wi-uv"), cvr = document.getElementById("wi-cvr"),
    asp = document.getElementById("wi-asp");
  const body = document.querySelector("#wi-table tbody");
  function update() {
    const change = { uv: uv.value / 100, cvrPoints: cvr.value / 100, asp: asp.value / 100 };
    document.getElementById("wi-uv-out").textContent = (uv.value >= 0 ? "+" : "") + uv.value + "%";
    document.getElementById("wi-cvr-out").textContent =
      (cvr.value >= 0 ? "+" : "") + Number(cvr.value).toFixed(2) + "个百分点";
    document.getElementById("wi-asp-out").textContent = (asp.value >= 0 ? "+" : "") + asp.value + "%";
    body.textContent = "";
    rows.forEach(function (cell, i) {
      const after = whatIf(cell, change);
      const planned = cell.uv * cell.cvr * cell.asp_fen;
      const tr = document.createElement("tr");
      if (i === rows.length - 1) tr.className = "total";
      [cell.label, Math.round(after.uv).toLocaleString("zh-CN"), (after.cvr * 100).toFixed(2) + "%",
        yuan(after.asp_fen), yuan(planned), yuan(after.gmv_fen),
        (after.gmv_fen >= planned ? "+" : "") + yuan(after.gmv_fen - planned)].forEach(function (text, j) {
        const td = document.createElement("td");
        td.textContent = text;
        if (j === 5) td.className = i === rows.length - 1 ? "wi-gmv wi-total" : "wi-gmv";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  [uv, cvr, asp].forEach(function (el) { el.addEventListener("input", update); });
  update();
  initBudget(base.budget);
}

// The budget slider: expected GMV at each step is the plan's own what-if (computed on the server
// by dacu.plan.whatif for every step the slider offers), so nothing is re-derived here.
function initBudget(steps) {
  const slider = document.getElementById("wi-budget");
  if (!slider || !steps) return;
  const planned = steps.find(function (s) { return s.percent === 0; });
  function update() {
    const step = steps.find(function (s) { return s.percent === Number(slider.value); }) || planned;
    const delta = step.gmv_fen - planned.gmv_fen;
    document.getElementById("wi-budget-out").textContent = (step.percent >= 0 ? "+" : "") + step.percent + "%";
    document.getElementById("wi-budget-spend").textContent = yuan(step.spend_fen);
    document.getElementById("wi-budget-gmv").textContent = yuan(step.gmv_fen);
    document.getElementById("wi-budget-delta").textContent = "(" + (delta >= 0 ? "+" : "-") + yuan(Math.abs(delta)) + ")";
  }
  slider.addEventListener("input", update);
  update();
}

function pollJobs() {
  document.querySelectorAll(".job").forEach(function (box) {
    if (box.dataset.status !== "queued" && box.dataset.status !== "running") return;
    const tick = function () {
      fetch("/workbench/jobs/" + box.dataset.job, { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          box.dataset.status = job.status;
          box.querySelector(".job-status").textContent = job.status;
          box.querySelector("progress").value = job.progress;
          box.querySelector(".job-log").textContent = job.log.join("\n");
          if (job.status === "done") window.location.reload();
          else if (job.status !== "failed") setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 3000); });
    };
    tick();
  });
}

initWhatIf();
pollJobs();
