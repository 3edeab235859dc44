// The dashboard's few scripts: today's capability, the live event chart and tables, the
// enterprise's live delivery. Data arrive rounded and in local time; this only draws.
"use strict";
const VPP = (() => {
  const labels = () => JSON.parse(document.getElementById("labels")?.textContent || "{}");
  const L = labels();
  const tr = (key) => L[key] || key;

  function cell(row, text, cls) {
    const td = row.insertCell();
    td.textContent = text == null ? "–" : String(text);
    if (cls) td.className = cls;
    return td;
  }

  function fill(tbody, rows, columns) {
    tbody.replaceChildren();
    for (const item of rows) {
      const row = tbody.insertRow();
      for (const [key, cls] of columns) cell(row, item[key], cls);
      row.dataset.key = item.key || item.event_id || "";
      if (item.state) row.dataset.state = item.state;
    }
  }

  async function capability() {
    const box = document.getElementById("capability");
    if (!box) return;
    const body = document.getElementById("capability-body");
    try {
      const reply = await fetch(box.dataset.url, { credentials: "same-origin" });
      const data = await reply.json();
      if (data.error) { body.textContent = data.error; return; }
      const dl = box.querySelector("dl");
      for (const dd of dl.querySelectorAll("dd[data-k]")) {
        const k = dd.dataset.k;
        dd.textContent = k === "verdict" ? (data.meets_target ? box.dataset.pass : box.dataset.fail)
          : k === "target_kw" ? `${data.target_kw} (${data.target_pct} %)` : data[k];
      }
      dl.querySelector(".verdict").classList.add(data.meets_target ? "pass" : "fail");
      dl.hidden = false;
      body.hidden = true;
    } catch (err) {
      body.textContent = String(err);
    }
  }

  function chartData(feed) {
    const xs = feed.intervals.map((i) => i.t);
    const col = (k) => feed.intervals.map((i) => i[k]);
    return [xs, col("target_kw"), col("planned_kw"), col("baseline_kw"), col("delivered_kw")];
  }

  const pad = (n) => String(n).padStart(2, "0");
  const hhmm = (ts, tz) => {
    const d = uPlot.tzDate(new Date(ts * 1e3), tz);
    return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };

  function makeChart(el, feed, tz) {
    const width = () => Math.max(320, el.clientWidth || 800);
    const opts = {
      width: width(), height: 320,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), tz),
      scales: { x: { time: true } },
      series: [
        {},
        { label: tr("target"), stroke: "#d62728", dash: [6, 4], width: 2 },
        { label: tr("planned"), stroke: "#1f77b4", width: 2 },
        { label: tr("baseline"), stroke: "#7f7f7f", width: 1 },
        { label: tr("delivered"), stroke: "#2ca02c", width: 3, points: { show: true, size: 7 } },
      ],
      axes: [{ values: (u, splits) => splits.map((ts) => hhmm(ts, tz)) }, { label: "kW", size: 70 }],
    };
    const chart = new uPlot(opts, chartData(feed), el);
    window.addEventListener("resize", () => chart.setSize({ width: width(), height: 320 }));
    return chart;
  }

  function drawEvent(feed, chart) {
    chart.setData(chartData(feed));
    for (const el of document.querySelectorAll("[data-live]")) {
      const k = el.dataset.live;
      el.textContent = k === "state" ? tr(feed.state)
        : k === "target_kw" ? feed.target_kw.toLocaleString() : feed[k];
    }
    document.getElementById("state").dataset.state = feed.state;
    const states = feed.participants.map((p) => ({ ...p, state_label: tr(p.state) }));
    fill(document.querySelector("#participants tbody"), states,
      [["key"], ["enterprise"], ["state_label", "state"], ["reason"]]);
    document.querySelectorAll("#participants tbody tr").forEach((row, i) => {
      row.dataset.state = feed.participants[i].state;
    });
    fill(document.querySelector("#faults tbody"), feed.faults, [["at"], ["key"], ["reason"]]);
    fill(document.querySelector("#redispatches tbody"), feed.redispatches,
      [["at"], ["reason"], ["dropped"], ["added"], ["residual_kw", "num"], ["over_cap_kw", "num"]]);
    const box = document.getElementById("settlement");
    if (feed.settlement) {
      const s = feed.settlement;
      fill(box.querySelector("tbody"), s.enterprises, [["enterprise"], ["asked_kwh", "num"],
        ["delivered_kwh", "num"], ["payment_cny", "num"], ["penalty_cny", "num"]]);
      fill(box.querySelector("tfoot"), [{ enterprise: tr("total"), ...s }], [["enterprise"],
        ["asked_kwh", "num"], ["delivered_kwh", "num"], ["payment_cny", "num"], ["penalty_cny", "num"]]);
      box.hidden = false;
    }
  }

  // Push statistics the browser tests read: pushes received, and per push the time from
  // the newest telemetry sample behind it to the chart being drawn [ms].
  const push = { count: 0, latencies_ms: [] };

  function eventPage(streamUrl, tz) {
    const feed = JSON.parse(document.getElementById("feed").textContent);
    const chart = makeChart(document.getElementById("chart"), feed, tz);
    drawEvent(feed, chart);
    window.vppChart = chart;
    window.vppPush = push;
    let lastTelemetry = feed.telemetry_wall_ms;
    const source = new EventSource(streamUrl);
    source.onmessage = (message) => {
      const next = JSON.parse(message.data);
      drawEvent(next, chart);
      push.count += 1;
      if (next.telemetry_wall_ms && next.telemetry_wall_ms !== lastTelemetry) {
        push.latencies_ms.push(Date.now() - next.telemetry_wall_ms);
        lastTelemetry = next.telemetry_wall_ms;
      }
    };
    source.addEventListener("gone", () => source.close());
  }

  function enterprisePage(streamUrl) {
    const draw = (feed) => {
      const rows = feed.events.map((e) => ({ ...e, state_label: tr(e.state) }));
      fill(document.querySelector("#commitments tbody"), rows.filter((e) => e.upcoming),
        [["event_id"], ["window"], ["state_label"], ["resources"]]);
      fill(document.querySelector("#live tbody"), rows.filter((e) => !e.upcoming),
        [["event_id"], ["window"], ["state_label"], ["asked_kwh", "num"],
          ["delivered_kwh", "num"], ["now_kw", "num"]]);
    };
    draw(JSON.parse(document.getElementById("feed").textContent));
    window.vppPush = push;
    const source = new EventSource(streamUrl);
    source.onmessage = (message) => { draw(JSON.parse(message.data)); push.count += 1; };
  }

  document.addEventListener("DOMContentLoaded", capability);
  return { eventPage, enterprisePage };
})();
