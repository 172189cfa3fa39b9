// The dashboard's charts (Apache ECharts, vendored in static/vendor/echarts) from the figures the page
// carries as JSON in <script type="application/json" id="dashboard-data">. Every figure is also a table in
// the page: without JavaScript the tables are all there is; with it, each table folds under its chart.
(function () {
  "use strict";

  var source = document.getElementById("dashboard-data");
  var root = document.getElementById("dashboard");
  var filters = document.getElementById("filters");
  if (filters) {
    // a chosen campaign, batch, product or province applies at once; dates apply with the Apply button
    filters.addEventListener("change", function (event) {
      if (event.target.tagName === "SELECT") filters.submit();
    });
  }
  if (!source || !root || !window.echarts) return;
  var d = JSON.parse(source.textContent);
  var yuan = function (fen) { return (fen / 100).toFixed(2); };
  var grid = { left: 56, right: 24, top: 36, bottom: 40, containLabel: true };
  var tooltip = { trigger: "axis" };

  function lines(points, keys, money) {
    return {
      tooltip: tooltip,
      legend: { top: 0, type: "scroll" },
      grid: grid,
      xAxis: { type: "category", data: points.map(function (p) { return p.t; }) },
      yAxis: { type: "value", minInterval: 1 },
      dataZoom: points.length > 48 ? [{ type: "inside" }, { type: "slider", height: 16, bottom: 4 }] : [],
      series: keys.map(function (k) {
        return {
          name: d.series[k], type: "line", showSymbol: points.length < 40,
          data: points.map(function (p) { return money ? yuan(p[k]) : p[k]; })
        };
      })
    };
  }

  function bars(rows, label, keys, names) {
    var shown = rows.slice().reverse();
    return {
      tooltip: tooltip,
      legend: keys.length > 1 ? { top: 0 } : undefined,
      grid: { left: 8, right: 24, top: keys.length > 1 ? 30 : 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", data: shown.map(label), axisLabel: { width: 120, overflow: "truncate" } },
      series: keys.map(function (k, i) {
        return { name: names[i], type: "bar", stack: "s", data: shown.map(function (r) { return r[k]; }) };
      })
    };
  }

  var charts = {
    funnel: function () {
      return {
        tooltip: { trigger: "item", formatter: "{b}: {c}" },
        series: [{
          type: "funnel", sort: "none", gap: 2, minSize: "8%", left: "10%", width: "80%",
          label: { position: "inside", formatter: "{b}\n{c}" },
          data: d.funnel.map(function (s) { return { name: d.steps[s.step], value: s.count }; })
        }]
      };
    },
    daily: function () { return lines(d.daily, ["scans", "first_scans", "claims", "redemptions"]); },
    hourly: function () { return lines(d.hourly, ["scans", "claims", "redemptions"]); },
    heatmap: function () {
      var max = Math.max.apply(null, d.heatmap.map(function (c) { return c.scans; }).concat([1]));
      var hours = []; for (var h = 0; h < 24; h++) hours.push(String(h));
      return {
        tooltip: { position: "top" },
        grid: { left: 48, right: 16, top: 8, bottom: 84 },
        xAxis: { type: "category", data: hours, splitArea: { show: true } },
        yAxis: { type: "category", data: d.weekdays, inverse: true, splitArea: { show: true } },
        visualMap: { min: 0, max: max, calculable: true, orient: "horizontal", left: "center", bottom: 0,
                     inRange: { color: ["#f5f8ff", "#1664ff"] } },
        series: [{
          name: d.series.scans, type: "heatmap", label: { show: false },
          data: d.heatmap.map(function (c) { return [c.hour, c.weekday - 1, c.scans]; })
        }]
      };
    },
    provinces: function () {
      return bars(d.provinces, function (p) { return d.provinceNames[p.province]; }, ["scans"], [d.series.scans]);
    },
    cities: function () {
      return bars(d.cities, function (c) { return c.city; }, ["scans"], [d.series.scans]);
    },
    stores: function () {
      return bars(d.stores, function (s) { return s.name; }, ["redemptions"], [d.series.redemptions]);
    },
    clerks: function () {
      return bars(d.clerks, function (c) { return c.name; }, ["claims"], [d.series.claims]);
    },
    referrals: function () { return lines(d.referrals, ["shares", "friend_vouchers", "friend_redemptions"]); },
    payouts: function () {
      var states = Object.keys(d.states);
      return {
        tooltip: tooltip,
        legend: { top: 0, type: "scroll" },
        grid: grid,
        xAxis: { type: "category", data: [d.labels.store, d.labels.clerk] },
        yAxis: { type: "value", name: "¥" },
        series: states.map(function (s) {
          return { name: d.states[s], type: "bar", stack: "owed",
                   data: [yuan(d.ledger.store[s]), yuan(d.ledger.clerk[s])] };
        })
      };
    },
    diversion: function () {
      var rows = d.diversion.map(function (r) {
        return { name: r.distributor, diverted: r.diverted_scans, inRegion: r.scans - r.diverted_scans };
      });
      return bars(rows, function (r) { return r.name; }, ["diverted", "inRegion"],
                  [d.labels.diverted, d.labels.inRegion]);
    }
  };

  var drawn = [];
  root.classList.add("charts-on");
  Array.prototype.forEach.call(root.querySelectorAll(".chart[data-chart]"), function (el) {
    var build = charts[el.getAttribute("data-chart")];
    if (!build) return;
    var chart = window.echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(build());
    drawn.push(chart);
    var table = el.parentNode.querySelector("details.data");
    if (table) table.removeAttribute("open");
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
})();
