// Charts drawn with Chart.js (static/vendor/chartjs) from the JSON that
// templates/analytics/chart.html writes beside each canvas. A chart's figure comes hidden
// and shows once its chart is drawn: without JavaScript, or if Chart.js failed to load,
// the page shows only the table of the same numbers below it, and no empty box.
(function () {
  "use strict";
  var Chart = window.Chart;
  if (!Chart) return;

  // Numbers read as on the rest of the page (the server writes "17,366").
  var counts = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
  var percents = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

  function formatted(value, percent) {
    if (value === null || value === undefined) return "–";
    return percent ? percents.format(value) + "%" : counts.format(value);
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  // Colours and type come from app.css.
  function theme() {
    var style = getComputedStyle(document.documentElement);
    var read = function (name) { return style.getPropertyValue(name).trim(); };
    var palette = [];
    for (var i = 1; read("--chart-" + i); i++) palette.push(read("--chart-" + i));
    return {
      palette: palette.length ? palette : ["#4f46e5"],
      grid: read("--chart-grid") || "#eef0f3",
      axis: read("--line") || "#e4e7ec",
      text: read("--muted") || "#667085",
      tooltip: read("--text") || "#101828",
      font: style.fontFamily,
    };
  }

  function translucent(colour, alpha) {
    return Chart.helpers.color(colour).alpha(alpha).rgbString();
  }

  function dataset(series, index, data, colours) {
    var colour = colours.palette[index % colours.palette.length];
    var shared = { label: series.label, data: series.values, borderDash: series.dashed ? [6, 4] : [] };
    if (data.kind === "bar") {
      // Bars cannot be drawn dashed: a dashed series is a pale bar with a thin outline.
      return Object.assign(shared, {
        backgroundColor: series.dashed ? translucent(colour, 0.25) : colour,
        hoverBackgroundColor: series.dashed ? translucent(colour, 0.4) : translucent(colour, 0.85),
        borderColor: colour,
        borderWidth: series.dashed ? 1.5 : 0,
        borderRadius: 3,
        maxBarThickness: 40,
        // Bars of one label side by side, not spread over its whole width.
        categoryPercentage: data.series.length > 1 ? 0.5 : 0.8,
      });
    }
    // A lone solid line gets a faint area under it; several lines stay clear of each other.
    var filled = data.series.length === 1 && !series.dashed;
    var few = data.labels.length <= 12;
    return Object.assign(shared, {
      borderColor: colour,
      backgroundColor: filled ? translucent(colour, 0.08) : colour,
      fill: filled ? "origin" : false,
      borderWidth: 2,
      pointRadius: few ? 2 : 0,
      pointBorderWidth: 2,
      pointBorderColor: colour,
      pointBackgroundColor: colour,
      pointHoverRadius: 5,
      pointHoverBorderWidth: 2,
      pointHoverBorderColor: "#ffffff",
      pointHoverBackgroundColor: colour,
      tension: 0,
    });
  }

  // Legend entries drawn like their series: a short line, dashed for a dashed series (Chart.js
  // draws a line's entry with the style of its points, which are never dashed).
  function legendItems(chart) {
    var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
    items.forEach(function (item) {
      var dataset = chart.data.datasets[item.datasetIndex];
      item.lineDash = dataset.borderDash;
      if (chart.config.type === "line") item.lineWidth = dataset.borderWidth;
    });
    return items;
  }

  function config(data, colours) {
    var line = data.kind !== "bar";
    return {
      type: line ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map(function (series, index) {
          return dataset(series, index, data, colours);
        }),
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,  // the figure's height is set in app.css
        animation: reducedMotion() ? false : { duration: 200 },
        interaction: { mode: "index", intersect: false },
        layout: { padding: { top: 4 } },
        plugins: {
          legend: {
            display: data.series.length > 1,
            align: "end",
            labels: {
              usePointStyle: true,
              pointStyle: line ? "line" : "rectRounded",
              pointStyleWidth: line ? 22 : 12,
              boxHeight: line ? 8 : 10,
              padding: 14,
              generateLabels: legendItems,
            },
          },
          tooltip: {
            backgroundColor: colours.tooltip,
            padding: 10,
            cornerRadius: 6,
            boxPadding: 4,
            usePointStyle: true,
            titleFont: { weight: "600" },
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + formatted(item.parsed.y, data.percent);
              },
            },
          },
        },
        scales: {
          x: {
            grid: { display: false },
            border: { color: colours.axis },
            ticks: { maxRotation: 0, autoSkipPadding: 16 },
          },
          y: {
            beginAtZero: true,
            grid: { color: colours.grid },
            border: { display: false },
            ticks: {
              padding: 8,
              maxTicksLimit: 6,
              precision: data.percent ? undefined : 0,  // counts: whole numbers only
              callback: function (value) { return formatted(value, data.percent); },
            },
          },
        },
      },
    };
  }

  function draw(canvas) {
    if (Chart.getChart(canvas)) return;  // drawn already
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source) return;
    var figure = canvas.closest("[data-chart-figure]");
    // Shown before drawing, so that Chart.js measures the figure it fills.
    if (figure) figure.hidden = false;
    new Chart(canvas, config(JSON.parse(source.textContent), colours));
  }

  function drawCharts() {
    // Charts whose canvas an htmx swap took away (replaced, or removed with its part of
    // the page) let go of their canvas and resize observer.
    Object.keys(Chart.instances).forEach(function (id) {
      var chart = Chart.instances[id];
      if (!chart.canvas || !chart.canvas.isConnected) chart.destroy();
    });
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  var colours = theme();
  Chart.defaults.font.family = colours.font;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = colours.text;
  drawCharts();  // deferred: the document is parsed
  document.addEventListener("htmx:afterSettle", drawCharts);
})();
