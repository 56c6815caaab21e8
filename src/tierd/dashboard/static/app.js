/*
 * tierd dashboard: one page, two ways to get its data.
 *
 * Live mode (the daemon serves this page at /ui/): every few seconds the page asks the JSON
 * routes of the same origin (see CONTRACT.md beside this folder), one refresh at a time, and
 * re-renders only the parts whose data changed, so the scroll position and open tables stay.
 * When the daemon has a token, the first answer is a 401; the page then asks for the token
 * once, keeps it in sessionStorage (this tab only) and sends it as `Authorization: Bearer`.
 *
 * Static mode (`tierd export --site` wrote this page next to a data/ folder): the page reads
 * snapshot files instead. Chromium refuses fetch() and XHR of file:// URLs from a file://
 * page, but it does run <script src> from the same folder, so every snapshot is written twice:
 * data/NAME.json for people and other tools, and data/NAME.js, which is the same JSON wrapped
 * in one call, `tierdSnapshot("NAME", {...})`. The page adds one <script> per snapshot; its
 * onload hands over the data, its onerror (a missing file) leaves that part empty with a
 * "no data" note, and a file that loads but does not register (truncated, hand-edited) counts
 * as missing too. The same files work unchanged from any static web host, with no server-side
 * code and no CORS setup. write_site() marks the page as static by rewriting its
 * <meta name="tierd-mode">; a page opened from file:// is static whatever its marker says.
 *
 * No framework and no build step: the DOM is built with the two small helpers h() and svg(),
 * text always goes in as text (never as HTML), and the charts are plain SVG drawn here.
 */
"use strict";

(() => {
  /** Snapshot name → live route. The names are also the static site's file names. */
  const ROUTES = {
    status: "/status",
    models: "/models",
    costs: "/costs?period=day",
    costs_daily: "/costs/daily?days=30",
    routing: "/costs/routing?period=day",
    calls: "/costs/calls?limit=50",
    jobs: "/jobs",
    job_history: "/jobs/history?limit=20",
    index: "/index/status",
    bench: "/bench/runs?limit=100",
  };
  const LIVE_EVERY_MS = 5000;
  const STATIC_EVERY_MS = 60000; // a cron rewrites snapshots every few minutes at most
  const FETCH_TIMEOUT_MS = 10000; // a hung request must not stall every later refresh
  const CALLS_SHOWN = 50;
  const TOKEN_KEY = "tierd.dashboard.token";
  const TIER_ORDER = ["local", "cheap", "mid", "code", "frontier"];
  // Dark enough for white text on top; told apart by textures and labels as well.
  const PALETTE = [
    "#1f5fa8",
    "#b4530b",
    "#1d7a3e",
    "#7a3aa8",
    "#a8243a",
    "#0f6e69",
    "#8a6a0a",
    "#4a5568",
  ];
  const TEXTURES = ["solid", "diag", "dots", "cross", "horiz", "vert", "back"];
  const DASHES = ["", "6 3", "2 3", "8 3 2 3"];
  const MARKERS = ["circle", "square", "triangle", "diamond"];

  const state = {
    mode: "live",
    token: null,
    results: {}, // name → {data} | {missing: reason}
    rendered: {}, // part → key of what it shows now
    busy: false,
    timer: null,
    everyMs: LIVE_EVERY_MS,
    waitingForToken: false,
    stack: "provider",
    updatedAt: null,
  };

  // ---------------------------------------------------------------------------------------
  // DOM and number helpers

  const SVG_NS = "http://www.w3.org/2000/svg";
  let uidCounter = 0;
  /** Pattern ids are document-wide, and every render makes new ones. */
  const uid = (prefix) => `${prefix}-${++uidCounter}`;

  function setAttrs(el, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith("on") && typeof value === "function") {
        el.addEventListener(key.slice(2), value);
      } else {
        el.setAttribute(key, value === true ? "" : String(value));
      }
    }
  }

  function appendKids(el, kids) {
    for (const kid of kids.flat(Infinity)) {
      if (kid === null || kid === undefined || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  /** An HTML element; strings become text nodes, so data can never inject markup. */
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    return appendKids(el, kids);
  }

  function svg(tag, attrs, ...kids) {
    const el = document.createElementNS(SVG_NS, tag);
    setAttrs(el, attrs);
    return appendKids(el, kids);
  }

  const arr = (x) => (Array.isArray(x) ? x : []);
  const obj = (x) => (x && typeof x === "object" && !Array.isArray(x) ? x : {});
  const isNum = (x) => typeof x === "number" && Number.isFinite(x);
  const num = (x) => (isNum(x) ? x : 0);
  const str = (x) => (x === null || x === undefined ? "" : String(x));

  const formatters = new Map();
  /** Intl formatters are slow to build; the page asks for the same few over and over. */
  function fmt(kind, options) {
    const key = kind + JSON.stringify(options);
    if (!formatters.has(key)) {
      const make = kind === "date" ? Intl.DateTimeFormat : Intl.NumberFormat;
      formatters.set(key, new make(undefined, options));
    }
    return formatters.get(key);
  }

  const count = (n) => fmt("num", { maximumFractionDigits: 0 }).format(num(n));
  const decimal = (n, digits) =>
    fmt("num", { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(num(n));
  const percent = (share) =>
    fmt("num", { style: "percent", maximumFractionDigits: 0 }).format(num(share));

  /** USD; sub-cent amounts (one cheap call) keep four decimals so they do not read as $0.00. */
  function usd(value, digits) {
    const v = num(value);
    const d = digits ?? (v !== 0 && Math.abs(v) < 0.01 ? 4 : 2);
    return fmt("num", {
      style: "currency",
      currency: "USD",
      minimumFractionDigits: d,
      maximumFractionDigits: d,
    }).format(v);
  }

  /** Binary units, labelled as such (GiB), since budgets are set in them. */
  function bytes(n) {
    if (!isNum(n)) return "–";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let value = n;
    let i = 0;
    while (Math.abs(value) >= 1024 && i < units.length - 1) {
      value /= 1024;
      i += 1;
    }
    return `${decimal(value, i >= 3 ? 1 : 0)} ${units[i]}`;
  }

  function duration(seconds) {
    if (!isNum(seconds)) return "–";
    if (seconds < 1) return `${count(seconds * 1000)} ms`;
    if (seconds < 60) return `${decimal(seconds, 1)} s`;
    if (seconds < 3600) {
      return `${count(Math.floor(seconds / 60))} min ${count(Math.floor(seconds % 60))} s`;
    }
    return `${count(Math.floor(seconds / 3600))} h ${count(Math.floor((seconds % 3600) / 60))} min`;
  }

  const millis = (ms) => (isNum(ms) ? duration(ms / 1000) : "–");

  /** Unix seconds or an ISO string → Date (null when it is neither). */
  function toDate(value) {
    if (isNum(value)) return new Date(value * 1000);
    if (typeof value === "string" && value) {
      const d = new Date(value);
      return Number.isNaN(d.getTime()) ? null : d;
    }
    return null;
  }

  const utcText = (d) => `${d.toISOString().slice(0, 19).replace("T", " ")} UTC`;

  const DATE_TIME = { dateStyle: "medium", timeStyle: "short" };

  /** A <time> in local time (time only when it is today), UTC on hover. */
  function timeEl(value) {
    const d = toDate(value);
    if (!d) return "–";
    const today = new Date().toDateString() === d.toDateString();
    const style = today ? { timeStyle: "medium" } : DATE_TIME;
    return h(
      "time",
      { datetime: d.toISOString(), title: utcText(d) },
      fmt("date", style).format(d),
    );
  }

  /** "YYYY-MM-DD" is a calendar day, not an instant: format it in UTC so it never shifts. */
  function dayLabel(day, long) {
    const d = new Date(`${day}T00:00:00Z`);
    if (Number.isNaN(d.getTime())) return str(day);
    const options = long
      ? { dateStyle: "medium", timeZone: "UTC" }
      : { month: "short", day: "numeric", timeZone: "UTC" };
    return fmt("date", options).format(d);
  }

  const words = (code) => str(code).replace(/_/g, " ");
  const plural = (n, noun) => `${count(n)} ${noun}${num(n) === 1 ? "" : "s"}`;

  function empty(reason) {
    return h("p", { class: "empty" }, "No data", reason ? ` — ${reason}.` : ".");
  }

  /** A table with a caption and column headers; numeric columns are right-aligned. With
   * `stack`, a phone shows each row as a card of label: value lines (style.css), which reads
   * better than a table scrolled sideways; every cell carries its column's label for that. */
  function table(caption, columns, rows, opts = {}) {
    const head = h(
      "tr",
      null,
      columns.map((c) => h("th", { scope: "col", class: c.num ? "num" : null }, c.label)),
    );
    const body = rows.map((cells) =>
      h(
        "tr",
        null,
        cells.map((cell, i) => {
          const column = columns[i] || {};
          const tag = i === 0 && opts.rowHeaders ? "th" : "td";
          // One wrapper, so the card layout has exactly two items per line: label and value.
          return h(
            tag,
            {
              scope: tag === "th" ? "row" : null,
              class: column.num ? "num" : null,
              "data-label": column.label,
            },
            opts.stack ? h("span", { class: "v" }, cell) : cell,
          );
        }),
      ),
    );
    const classes = ["table-wrap", opts.tall && "tall", opts.stack && "stack"].filter(Boolean);
    return h(
      "div",
      { class: classes.join(" "), "data-keep": opts.keep },
      h("table", null, h("caption", null, caption), h("thead", null, head), h("tbody", null, body)),
    );
  }

  function statList(items) {
    return h(
      "dl",
      { class: "stats" },
      items
        .filter(Boolean)
        .map(([label, value, note]) =>
          h(
            "div",
            null,
            h("dt", null, label),
            h("dd", null, value),
            note ? h("dd", { class: "note" }, note) : null,
          ),
        ),
    );
  }

  function badge(text, kind) {
    return h("span", { class: `badge ${kind || ""}` }, text);
  }

  function statusBadge(status) {
    const s = str(status) || "unknown";
    return badge(s, `status-${s.replace(/[^a-z]/g, "")}`);
  }

  // ---------------------------------------------------------------------------------------
  // SVG fills that read without colour: a hue plus a texture per series

  function patternDef(id, color, texture) {
    const p = svg(
      "pattern",
      { id, width: 6, height: 6, patternUnits: "userSpaceOnUse" },
      svg("rect", { width: 6, height: 6, fill: color }),
    );
    const ink = { stroke: "rgba(255,255,255,0.6)", "stroke-width": 1.2, fill: "none" };
    const paths = {
      diag: "M-1,1 l2,-2 M0,6 l6,-6 M5,7 l2,-2",
      back: "M-1,5 l2,2 M0,0 l6,6 M5,-1 l2,2",
      cross: "M0,3 h6 M3,0 v6",
      horiz: "M0,1.5 h6 M0,4.5 h6",
      vert: "M1.5,0 v6 M4.5,0 v6",
    };
    if (texture === "dots") {
      p.append(svg("circle", { cx: 3, cy: 3, r: 1.3, fill: "rgba(255,255,255,0.7)" }));
    } else if (paths[texture]) {
      p.append(svg("path", { d: paths[texture], ...ink }));
    }
    return p;
  }

  /** Fill for series i, defined into `defs`. */
  function seriesFill(defs, i) {
    const id = uid("fill");
    defs.append(patternDef(id, PALETTE[i % PALETTE.length], TEXTURES[i % TEXTURES.length]));
    return `url(#${id})`;
  }

  function swatch(i) {
    const defs = svg("defs");
    const fill = seriesFill(defs, i);
    return svg(
      "svg",
      { class: "swatch", width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" },
      defs,
      svg("rect", { x: 0.5, y: 0.5, width: 13, height: 13, fill, stroke: "#222" }),
    );
  }

  /** A line series' legend mark: its dash and its marker shape. */
  function lineSwatch(i) {
    return svg(
      "svg",
      { class: "swatch wide", width: 30, height: 14, viewBox: "0 0 30 14", "aria-hidden": "true" },
      svg("line", {
        x1: 1,
        y1: 7,
        x2: 29,
        y2: 7,
        stroke: PALETTE[i % PALETTE.length],
        "stroke-width": 2,
        "stroke-dasharray": DASHES[i % DASHES.length],
      }),
      marker(i, 15, 7),
    );
  }

  function marker(i, x, y, title) {
    const color = PALETTE[i % PALETTE.length];
    const shape = MARKERS[i % MARKERS.length];
    const common = { fill: color, stroke: "#fff", "stroke-width": 1 };
    let el;
    if (shape === "circle") el = svg("circle", { cx: x, cy: y, r: 4, ...common });
    else if (shape === "square")
      el = svg("rect", { x: x - 4, y: y - 4, width: 8, height: 8, ...common });
    else if (shape === "triangle") {
      el = svg("path", { d: `M${x},${y - 5} L${x + 5},${y + 4} L${x - 5},${y + 4} Z`, ...common });
    } else
      el = svg("path", {
        d: `M${x},${y - 5} L${x + 5},${y} L${x},${y + 5} L${x - 5},${y} Z`,
        ...common,
      });
    if (title) el.append(svg("title", null, title));
    return el;
  }

  /** A round axis maximum and step for about `ticks` gridlines. */
  function niceScale(max, ticks = 4) {
    const top = max > 0 ? max : 1;
    const raw = top / ticks;
    const pow = 10 ** Math.floor(Math.log10(raw));
    const f = raw / pow;
    const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * pow;
    return { max: Math.ceil(top / step - 1e-9) * step, step };
  }

  function legend(entries) {
    return h(
      "ul",
      { class: "legend" },
      entries.map(([mark, ...text]) => h("li", null, mark, h("span", null, text))),
    );
  }

  // ---------------------------------------------------------------------------------------
  // Hosts: one memory bar per host, one meter per device

  function renderHosts([status]) {
    if (!status.data) return empty(status.missing);
    const hosts = arr(obj(status.data).hosts);
    if (!hosts.length) return empty("the daemon reports no hosts");
    return h(
      "div",
      { class: "hosts" },
      hosts.map((host) => hostCard(obj(host))),
    );
  }

  function hostCard(host) {
    const models = arr(host.models).map(obj);
    const budget = num(host.budget);
    const summary =
      `${str(host.runtime) || "unknown"} runtime · budget ${bytes(budget)} · ` +
      `used ${bytes(num(host.used))} · free ${bytes(num(host.free))} · ` +
      `queue ${count(host.queue_depth)}`;
    return h(
      "article",
      { class: "host" },
      h("h3", null, str(host.host) || "unnamed host"),
      h("p", { class: "meta" }, summary),
      sized((width) => memoryBar(host, models, width)),
      memoryLegend(host, models),
      devicesTable(host),
    );
  }

  /** Segments of a host's budget: each model, other processes, what is unaccounted, free. */
  function memorySegments(host, models) {
    const segments = models.map((m, i) => ({
      label: str(m.name),
      bytes: num(m.bytes),
      estimate: isNum(m.estimated_bytes) ? m.estimated_bytes : null,
      fill: i,
      pinned: !!m.pinned,
      leased: num(m.leases) > 0,
    }));
    for (const e of arr(host.external).map(obj)) {
      segments.push({ label: str(e.name) || "other process", bytes: num(e.bytes), external: true });
    }
    const attributed = segments.reduce((sum, s) => sum + s.bytes, 0);
    if (num(host.used) - attributed > 0.005 * num(host.budget)) {
      segments.push({ label: "unattributed", bytes: num(host.used) - attributed, external: true });
    }
    return segments;
  }

  function memoryBar(host, models, width) {
    const segments = memorySegments(host, models);
    const used = segments.reduce((sum, s) => sum + s.bytes, 0);
    const budget = num(host.budget);
    const free = isNum(host.free) ? Math.max(0, host.free) : Math.max(0, budget - used);
    const scale = Math.max(budget, used + free, 1);
    const px = (b) => (b / scale) * (width - 2);
    const top = 4;
    const tall = 30;
    const defs = svg("defs");
    const pin = uid("pin");
    const lease = uid("lease");
    const freeFill = uid("free");
    defs.append(
      svg(
        "pattern",
        {
          id: pin,
          width: 8,
          height: 8,
          patternUnits: "userSpaceOnUse",
          patternTransform: "rotate(45)",
        },
        svg("rect", { width: 3, height: 8, fill: "rgba(0,0,0,0.38)" }),
      ),
      svg(
        "pattern",
        { id: lease, width: 8, height: 8, patternUnits: "userSpaceOnUse" },
        svg("circle", { cx: 4, cy: 4, r: 1.6, fill: "rgba(255,255,255,0.85)" }),
      ),
      svg(
        "pattern",
        {
          id: freeFill,
          width: 6,
          height: 6,
          patternUnits: "userSpaceOnUse",
          patternTransform: "rotate(45)",
        },
        svg("rect", { width: 6, height: 6, fill: "#fff" }),
        svg("rect", { width: 1, height: 6, fill: "#d5d9e0" }),
      ),
    );
    const g = svg("g");
    let x = 1;
    for (const seg of segments) {
      const w = px(seg.bytes);
      const fill = seg.external ? "#8d96a3" : PALETTE[seg.fill % PALETTE.length];
      const marks = [seg.pinned && "pinned", seg.leased && "leased"].filter(Boolean).join(", ");
      const title =
        `${seg.label}: ${bytes(seg.bytes)}` +
        (seg.estimate !== null && seg.estimate !== undefined
          ? ` (estimate ${bytes(seg.estimate)})`
          : "") +
        (marks ? ` · ${marks}` : "");
      const piece = svg(
        "g",
        null,
        svg("title", null, title),
        svg("rect", {
          x,
          y: top,
          width: Math.max(w, 0.5),
          height: tall,
          fill,
          stroke: "#fff",
          "stroke-width": 1,
        }),
      );
      if (seg.pinned)
        piece.append(svg("rect", { x, y: top, width: w, height: tall, fill: `url(#${pin})` }));
      if (seg.leased)
        piece.append(svg("rect", { x, y: top, width: w, height: tall, fill: `url(#${lease})` }));
      const text = fitLabel([seg.label, bytes(seg.bytes)], w);
      if (text) {
        piece.append(svg("text", { x: x + 5, y: top + tall / 2 + 4, class: "bar-label" }, text));
      }
      g.append(piece);
      if (seg.estimate) {
        const ex = x + px(seg.estimate);
        g.append(
          svg(
            "line",
            { x1: ex, x2: ex, y1: top - 3, y2: top + tall + 3, class: "estimate" },
            svg("title", null, `${seg.label}: estimate ${bytes(seg.estimate)}`),
          ),
        );
      }
      x += w;
    }
    if (free > 0) {
      const w = px(free);
      g.append(
        svg(
          "g",
          null,
          svg("title", null, `free: ${bytes(free)}`),
          svg("rect", {
            x,
            y: top,
            width: w,
            height: tall,
            fill: `url(#${freeFill})`,
            stroke: "#9aa3af",
            "stroke-width": 1,
          }),
          svg(
            "text",
            { x: x + w - 5, y: top + tall / 2 + 4, "text-anchor": "end", class: "bar-label dark" },
            fitLabel([`free ${bytes(free)}`, bytes(free)], w) || "",
          ),
        ),
      );
    }
    const budgetX = 1 + px(budget);
    g.append(
      svg("line", { x1: budgetX, x2: budgetX, y1: 0, y2: top + tall + 4, class: "budget-line" }),
      svg("text", { x: 1, y: top + tall + 16, class: "axis" }, "0"),
      svg(
        "text",
        { x: budgetX, y: top + tall + 16, "text-anchor": "end", class: "axis" },
        `budget ${bytes(budget)}`,
      ),
    );
    const label = `Memory of ${str(host.host)}: ${segments
      .map((s) => `${s.label} ${bytes(s.bytes)}`)
      .join(", ")}; free ${bytes(free)} of a ${bytes(budget)} budget.`;
    return svg(
      "svg",
      { class: "memory-bar", width, height: top + tall + 20, role: "img", "aria-label": label },
      defs,
      g,
    );
  }

  /** The longest of `candidates` that fits `width` px at the bar's font size, else "". */
  function fitLabel(candidates, width) {
    return candidates.find((t) => t.length * 6.6 + 10 < width) || "";
  }

  function memoryLegend(host, models) {
    const items = models.map((m, i) => {
      const notes = [];
      if (m.pinned) notes.push(badge("pinned", "pinned"));
      if (m.keep_warm) notes.push(badge("keep warm"));
      if (num(m.leases) > 0)
        notes.push(badge(`${count(m.leases)} lease${m.leases === 1 ? "" : "s"}`, "leased"));
      if (num(m.running) || num(m.waiting)) {
        notes.push(badge(`${count(m.running)} running, ${count(m.waiting)} waiting`));
      }
      if (m.reserved_for) notes.push(badge(`reserved for ${m.reserved_for}`));
      const estimate = isNum(m.estimated_bytes) ? ` (estimate ${bytes(m.estimated_bytes)})` : "";
      return [
        swatchSolid(PALETTE[i % PALETTE.length], m.pinned, num(m.leases) > 0),
        h("strong", null, str(m.name)),
        ` ${bytes(m.bytes)} measured${estimate} `,
        notes,
        m.last_used ? [" · last used ", timeEl(m.last_used)] : null,
      ];
    });
    for (const e of arr(host.external).map(obj)) {
      items.push([
        swatchSolid("#8d96a3"),
        `${str(e.name) || "other process"} ${bytes(e.bytes)} (not tierd's)`,
      ]);
    }
    if (!models.length) items.unshift([swatchSolid("#fff"), "no model loaded"]);
    items.push([
      h("span", { class: "swatch est-mark", "aria-hidden": "true" }),
      "dashed line: the estimate tierd planned with",
    ]);
    return legend(items);
  }

  function swatchSolid(color, pinned, leased) {
    const mark = svg(
      "svg",
      { class: "swatch", width: 14, height: 14, viewBox: "0 0 14 14", "aria-hidden": "true" },
      svg("rect", { x: 0.5, y: 0.5, width: 13, height: 13, fill: color, stroke: "#222" }),
    );
    if (pinned)
      mark.append(
        svg("path", {
          d: "M0,10 L10,0 M4,14 L14,4",
          stroke: "rgba(0,0,0,0.5)",
          "stroke-width": 2.5,
        }),
      );
    if (leased) mark.append(svg("circle", { cx: 7, cy: 7, r: 2, fill: "#fff" }));
    return mark;
  }

  function devicesTable(host) {
    const devices = arr(host.devices).map(obj);
    if (!devices.length) return null;
    const rows = devices.map((d) => {
      const total = isNum(d.total) ? d.total : null;
      const used = isNum(d.used) ? d.used : null;
      const usage =
        total && used !== null
          ? h(
              "span",
              { class: "usage" },
              h("meter", {
                min: 0,
                max: total,
                value: used,
                high: total * 0.9,
                "aria-label": `${str(d.name)} memory in use`,
              }),
              ` ${bytes(used)} of ${bytes(total)}`,
            )
          : "not measured";
      return [`${str(d.name)} (${str(d.kind)} ${count(d.index)})`, usage, bytes(d.budget)];
    });
    return table(
      `Devices of ${str(host.host)}`,
      [
        { label: "Device" },
        { label: "In use, all processes" },
        { label: "tierd's budget", num: true },
      ],
      rows,
      { rowHeaders: true, stack: true },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Models

  function modelState(model, running) {
    if (!model.loaded) return "available";
    return num(model.leases) > 0 || running > 0 ? "in use" : "idle";
  }

  function renderModels([models, status]) {
    if (!models.data) return empty(models.missing);
    const list = arr(obj(models.data).models).map(obj);
    if (!list.length) return empty("no models found");
    // /status knows which models are generating right now; /models does not.
    const running = new Map();
    for (const host of arr(obj(status.data).hosts).map(obj)) {
      for (const m of arr(host.models).map(obj))
        running.set(`${host.host}\n${m.name}`, num(m.running));
    }
    const rank = { "in use": 0, idle: 1, available: 2 };
    const rows = list
      .map((m) => ({ m, state: modelState(m, running.get(`${m.host}\n${m.name}`) || 0) }))
      .sort(
        (a, b) =>
          rank[a.state] - rank[b.state] ||
          str(a.m.host).localeCompare(str(b.m.host)) ||
          str(a.m.name).localeCompare(str(b.m.name)),
      );
    const tally = (s) => rows.filter((r) => r.state === s).length;
    const loaded = tally("in use") + tally("idle");
    const summary = h(
      "p",
      { class: "meta" },
      `${count(loaded)} loaded ` +
        `(${count(tally("in use"))} in use, ${count(tally("idle"))} idle) · ` +
        `${count(tally("available"))} available on disk`,
    );
    return [
      summary,
      table(
        "Models on every host",
        [
          { label: "Model" },
          { label: "Host" },
          { label: "State" },
          { label: "In memory", num: true },
          { label: "File", num: true },
          { label: "Context", num: true },
          { label: "Last used" },
          { label: "Load time", num: true },
        ],
        rows.map(({ m, state: s }) => [
          [
            str(m.name),
            m.pinned ? [" ", badge("pinned", "pinned")] : null,
            m.capability === "embed" ? [" ", badge("embed")] : null,
          ],
          str(m.host),
          badge(s, `state-${s.replace(" ", "")}`),
          m.loaded
            ? [
                bytes(m.bytes),
                isNum(m.estimated_bytes)
                  ? h("span", { class: "sub" }, `estimate ${bytes(m.estimated_bytes)}`)
                  : null,
              ]
            : "–",
          bytes(m.file_bytes),
          isNum(m.context_length) ? count(m.context_length) : "–",
          m.last_used ? timeEl(m.last_used) : "never",
          duration(m.load_seconds),
        ]),
        { rowHeaders: true, stack: true },
      ),
    ];
  }

  // ---------------------------------------------------------------------------------------
  // Money: today, the budgets, savings; spend per day

  function budgetLabel(b) {
    const period =
      { day: "per day", week: "per week", month: "per month" }[b.period] || str(b.period);
    if (b.scope === "global") return `All spend, ${period}`;
    return `${b.scope === "tier" ? "Tier" : "Provider"} ${str(b.name)}, ${period}`;
  }

  function budgetRow(b) {
    const cap = num(b.cap_usd);
    const spent = num(b.spent_usd);
    const share = cap > 0 ? spent / cap : 0;
    const id = uid("budget");
    const over = cap > 0 && spent >= cap;
    return h(
      "li",
      { class: `budget${over ? " over" : ""}` },
      h("label", { for: id }, budgetLabel(b)),
      h("meter", {
        id,
        min: 0,
        max: cap || 1,
        value: Math.min(spent, cap || 1),
        low: cap * 0.6,
        high: cap * 0.85,
        optimum: 0,
      }),
      h(
        "span",
        { class: "budget-text" },
        `${usd(spent)} of ${usd(cap)} (${percent(share)})`,
        over ? [" ", badge("cap reached: local only", "status-error")] : null,
        num(b.reserved_usd) > 0 ? ` · ${usd(b.reserved_usd)} reserved` : "",
        b.resets ? [" · resets ", timeEl(b.resets)] : null,
      ),
    );
  }

  function renderToday([costs]) {
    if (!costs.data) return empty(costs.missing);
    const c = obj(costs.data);
    const calls = num(c.calls);
    const stats = statList([
      ["Spent today", usd(c.cost_usd), c.since ? ["since ", timeEl(c.since)] : null],
      [
        "Calls",
        count(calls),
        `${count(c.ok)} ok · ${plural(c.errors, "error")} · ${count(c.cancelled)} cancelled`,
      ],
      [
        "Tokens",
        count(num(c.prompt_tokens) + num(c.completion_tokens)),
        `${count(c.prompt_tokens)} in · ${count(c.completion_tokens)} out`,
      ],
      [
        "Cache hits",
        count(c.cache_hits),
        calls ? percent(num(c.cache_hits) / calls) + " of calls" : null,
      ],
      [
        "Fallbacks",
        count(c.fallbacks),
        calls ? percent(num(c.fallbacks) / calls) + " of calls" : null,
      ],
      ["Average latency", millis(c.avg_latency_ms)],
    ]);
    const budgets = arr(c.budgets).map(obj);
    const parts = [
      stats,
      h("h4", null, "Budgets"),
      budgets.length
        ? h("ul", { class: "budgets" }, budgets.map(budgetRow))
        : h("p", { class: "empty" }, "No budgets set."),
    ];
    const saved = c.savings && typeof c.savings === "object" ? savingsBlock(obj(c.savings)) : null;
    if (saved) parts.push(saved);
    return parts;
  }

  function savingsBlock(s) {
    if (!isNum(s.saved_usd)) return null;
    return h(
      "div",
      { class: "savings" },
      h("h4", null, "Savings against all-frontier"),
      h(
        "p",
        null,
        h("strong", { class: "big" }, usd(s.saved_usd)),
        " saved today: the same calls on ",
        h("code", null, str(s.frontier_model) || "the frontier model"),
        ` would have cost ${usd(s.frontier_usd)}`,
        `; at list prices they cost ${usd(s.list_usd)}; spent ${usd(s.spent_usd)}.`,
      ),
    );
  }

  /** Series names in a stable order: tiers in routing order, anything else by total spend. */
  function seriesNames(days, key) {
    const totals = new Map();
    for (const d of days) {
      for (const [name, v] of Object.entries(obj(d[key])))
        totals.set(name, (totals.get(name) || 0) + num(v));
    }
    const names = [...totals.keys()];
    const tierRank = (n) => (TIER_ORDER.includes(n) ? TIER_ORDER.indexOf(n) : TIER_ORDER.length);
    return names
      .sort(
        (a, b) =>
          (key === "by_tier" ? tierRank(a) - tierRank(b) : 0) ||
          totals.get(b) - totals.get(a) ||
          a.localeCompare(b),
      )
      .map((name) => ({ name, total: totals.get(name) }));
  }

  function renderDaily([daily], stack) {
    if (!daily.data) return empty(daily.missing);
    const data = obj(daily.data);
    const days = arr(data.days).map(obj);
    if (!days.length) return empty("no days recorded");
    const key = stack === "tier" ? "by_tier" : "by_provider";
    const series = seriesNames(days, key);
    const cap = isNum(data.daily_cap_usd) ? data.daily_cap_usd : null;
    const totals = days.map((d) => series.reduce((sum, s) => sum + num(obj(d[key])[s.name]), 0));
    const over = cap === null ? [] : days.filter((d, i) => totals[i] > cap + 1e-9);
    const sum = totals.reduce((a, b) => a + b, 0);
    const peak = totals.indexOf(Math.max(...totals));
    const summary = h(
      "p",
      { class: "meta" },
      `${count(days.length)} days: ${usd(sum)} in total, ` +
        `${usd(sum / days.length)} a day on average, ` +
        `most ${usd(totals[peak])} on ${dayLabel(days[peak].day, true)}` +
        (cap === null
          ? "; no daily cap set."
          : `; daily cap ${usd(cap)}, crossed on ${count(over.length)} ` +
            `day${over.length === 1 ? "" : "s"}.`),
    );
    return [
      summary,
      sized((width) => dailyChart(days, key, series, totals, cap, width)),
      legend(
        series
          .map((s, i) => [swatch(i), h("strong", null, s.name), ` ${usd(s.total)}`])
          .concat(
            cap === null
              ? []
              : [
                  [
                    h("span", { class: "swatch cap-mark", "aria-hidden": "true" }),
                    `dashed line: daily cap ${usd(cap)}`,
                  ],
                ],
          ),
      ),
      h(
        "details",
        { "data-keep": "daily-table" },
        h("summary", null, "Show the days as a table"),
        table(
          `Spend per day by ${stack}`,
          [
            { label: "Day" },
            ...series.map((s) => ({ label: s.name, num: true })),
            { label: "Total", num: true },
            { label: "Calls", num: true },
          ],
          days
            .map((d, i) => [
              dayLabel(d.day, true),
              ...series.map((s) => usd(obj(d[key])[s.name] || 0)),
              usd(totals[i]),
              count(d.calls),
            ])
            .reverse(),
          { rowHeaders: true },
        ),
      ),
    ];
  }

  function dailyChart(days, key, series, totals, cap, width) {
    const height = 250;
    const m = { left: 58, right: 10, top: 14, bottom: 30 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const { max, step } = niceScale(Math.max(...totals, cap || 0) * 1.05);
    const y = (v) => m.top + plotH - (v / max) * plotH;
    const band = plotW / days.length;
    const barW = Math.max(2, band * 0.72);
    const defs = svg("defs");
    const fills = series.map((s, i) => seriesFill(defs, i));
    const root = svg(
      "svg",
      {
        class: "chart",
        width,
        height,
        role: "img",
        "aria-label":
          `Spend per day by ${key === "by_tier" ? "tier" : "provider"}; ` +
          "the table below has the numbers.",
      },
      defs,
    );
    for (let v = 0; v <= max + step / 2; v += step) {
      root.append(
        svg("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), class: "grid" }),
        svg(
          "text",
          { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" },
          usd(v, step < 1 ? 2 : 0),
        ),
      );
    }
    const every = Math.ceil(days.length / Math.max(1, Math.floor(plotW / 56)));
    days.forEach((d, i) => {
      const x = m.left + i * band + (band - barW) / 2;
      let base = 0;
      const parts = series.map((s) => [s.name, num(obj(d[key])[s.name])]).filter(([, v]) => v > 0);
      const overCap = cap !== null && totals[i] > cap + 1e-9;
      const group = svg(
        "g",
        null,
        svg(
          "title",
          null,
          `${dayLabel(d.day, true)}: ${usd(totals[i])}${overCap ? " (over the daily cap)" : ""}` +
            (parts.length ? ` — ${parts.map(([n, v]) => `${n} ${usd(v)}`).join(", ")}` : ""),
        ),
      );
      series.forEach((s, si) => {
        const v = num(obj(d[key])[s.name]);
        if (v <= 0) return;
        group.append(
          svg("rect", {
            x,
            width: barW,
            y: y(base + v),
            height: Math.max(0.5, y(base) - y(base + v)),
            fill: fills[si],
            stroke: "#fff",
            "stroke-width": 0.5,
          }),
        );
        base += v;
      });
      if (overCap) {
        group.append(
          svg(
            "text",
            { x: x + barW / 2, y: y(base) - 3, "text-anchor": "middle", class: "axis strong" },
            "▲",
          ),
        );
      }
      // A transparent column makes the hover title reachable on zero days too.
      group.append(
        svg("rect", {
          x: m.left + i * band,
          width: band,
          y: m.top,
          height: plotH,
          fill: "transparent",
        }),
      );
      root.append(group);
      if ((days.length - 1 - i) % every === 0) {
        root.append(
          svg(
            "text",
            { x: x + barW / 2, y: height - m.bottom + 16, "text-anchor": "middle", class: "axis" },
            dayLabel(d.day),
          ),
        );
      }
    });
    if (cap !== null) {
      root.append(
        svg("line", { x1: m.left, x2: width - m.right, y1: y(cap), y2: y(cap), class: "cap-line" }),
        svg(
          "text",
          { x: width - m.right, y: y(cap) - 5, "text-anchor": "end", class: "axis strong halo" },
          `daily cap ${usd(cap)}`,
        ),
      );
    }
    root.append(
      svg("line", { x1: m.left, x2: width - m.right, y1: y(0), y2: y(0), class: "baseline" }),
    );
    return root;
  }

  // ---------------------------------------------------------------------------------------
  // Routing: per tier, fallbacks, cache hits; the last calls

  function shareBar(share) {
    const w = 80;
    return svg(
      "svg",
      { class: "share", width: w, height: 10, "aria-hidden": "true" },
      svg("rect", { x: 0, y: 0, width: w, height: 10, class: "share-bg" }),
      svg("rect", {
        x: 0,
        y: 0,
        width: Math.max(0, Math.min(1, share)) * w,
        height: 10,
        class: "share-fg",
      }),
    );
  }

  function renderTiers([routing]) {
    if (!routing.data) return empty(routing.missing);
    const r = obj(routing.data);
    const tiers = arr(r.tiers)
      .map(obj)
      .sort((a, b) => {
        const rank = (t) => (TIER_ORDER.includes(t) ? TIER_ORDER.indexOf(t) : 99);
        return rank(a.tier) - rank(b.tier);
      });
    const calls = num(r.calls) || tiers.reduce((sum, t) => sum + num(t.calls), 0);
    const fallbacks = arr(r.fallback_reasons).reduce((sum, f) => sum + num(obj(f).calls), 0);
    const summary = h(
      "p",
      { class: "meta" },
      `${count(calls)} calls · ${count(r.cache_hits)} cache hits` +
        (calls ? ` (${percent(num(r.cache_hits) / calls)})` : "") +
        ` · ${count(fallbacks)} fallbacks`,
    );
    const tierTable = tiers.length
      ? table(
          "Calls per tier today",
          [
            { label: "Tier" },
            { label: "Calls", num: true },
            { label: "Share" },
            { label: "Cost", num: true },
            { label: "Cache hits", num: true },
            { label: "Fallbacks", num: true },
          ],
          tiers.map((t) => {
            const share = calls ? num(t.calls) / calls : 0;
            return [
              str(t.tier),
              count(t.calls),
              [shareBar(share), ` ${percent(share)}`],
              usd(t.cost_usd),
              count(t.cache_hits),
              count(t.fallbacks),
            ];
          }),
          { rowHeaders: true },
        )
      : h("p", { class: "empty" }, "No calls today.");
    const reasons = arr(r.fallback_reasons).map(obj);
    const reasonTable = reasons.length
      ? table(
          "Fallbacks by reason",
          [{ label: "Reason" }, { label: "Calls", num: true }],
          reasons.map((f) => [words(f.reason), count(f.calls)]),
          { rowHeaders: true },
        )
      : h("p", { class: "empty" }, "No fallbacks today.");
    return [summary, h("div", { class: "pair" }, tierTable, reasonTable)];
  }

  function renderCalls([calls]) {
    if (!calls.data) return empty(calls.missing);
    const list = arr(obj(calls.data).calls).map(obj).slice(0, CALLS_SHOWN);
    if (!list.length) return empty("no calls yet");
    return table(
      `The last ${count(list.length)} calls, newest first`,
      [
        { label: "Time" },
        { label: "Task" },
        { label: "Tier" },
        { label: "Model" },
        { label: "Tokens in → out", num: true },
        { label: "Cost", num: true },
        { label: "Latency", num: true },
        { label: "Outcome" },
      ],
      list.map((c) => [
        timeEl(c.ts),
        str(c.task),
        str(c.tier),
        [str(c.model), h("span", { class: "sub" }, str(c.provider))],
        `${count(c.prompt_tokens)} → ${count(c.completion_tokens)}`,
        usd(c.cost_usd),
        millis(c.latency_ms),
        [
          statusBadge(c.status),
          c.cache_hit ? [" ", badge("cache hit", "cache")] : null,
          c.fallback_reason
            ? [" ", badge(`fell back: ${words(c.fallback_reason)}`, "fallback")]
            : null,
        ],
      ]),
      { tall: true, keep: "calls-table", stack: true },
    );
  }

  // ---------------------------------------------------------------------------------------
  // Jobs, their runs, the index

  function renderJobs([jobs]) {
    if (!jobs.data) return empty(jobs.missing);
    const list = arr(obj(jobs.data).jobs).map(obj);
    if (!list.length) return empty("no jobs configured");
    return table(
      "Scheduled jobs",
      [
        { label: "Job" },
        { label: "Kind" },
        { label: "Schedule (cron)" },
        { label: "Next run" },
        { label: "Last run" },
      ],
      list.map((j) => {
        const last = j.last_run ? obj(j.last_run) : null;
        return [
          str(j.name),
          str(j.kind),
          [h("code", null, str(j.cron)), j.enabled ? null : [" ", badge("disabled")]],
          j.enabled && j.next_run ? timeEl(j.next_run) : "–",
          last ? [statusBadge(last.status), " ", timeEl(last.started_at)] : "never ran",
        ];
      }),
      { rowHeaders: true, stack: true },
    );
  }

  /** The counts worth a glance first; the rest follow in their own order. */
  const COUNT_ORDER = [
    "files_indexed",
    "chunks_embedded",
    "summaries_made",
    "files_deleted",
    "files_seen",
    "chunks_reused",
  ];

  /** A run's numeric counts, the first `shown` as text and all of them on hover. */
  function countsText(counts, shown = 3) {
    const entries = Object.entries(obj(counts)).filter(([k, v]) => isNum(v) && k !== "seconds");
    const rank = (k) => (COUNT_ORDER.includes(k) ? COUNT_ORDER.indexOf(k) : COUNT_ORDER.length);
    entries.sort(([a], [b]) => rank(a) - rank(b));
    if (!entries.length) return "–";
    const text = entries.map(
      ([k, v]) => `${words(k)} ${Number.isInteger(v) ? count(v) : decimal(v, 1)}`,
    );
    const more = text.length > shown ? ` · ${count(text.length - shown)} more` : "";
    return h("span", { title: text.join("\n") }, text.slice(0, shown).join(" · ") + more);
  }

  function renderRuns([history]) {
    if (!history.data) return empty(history.missing);
    const runs = arr(obj(history.data).runs).map(obj);
    if (!runs.length) return empty("no job has run yet");
    return table(
      "Recent job runs, newest first",
      [
        { label: "Run", num: true },
        { label: "Job" },
        { label: "Started" },
        { label: "Took", num: true },
        { label: "Status" },
        { label: "What it did" },
      ],
      runs.map((r) => [
        `#${count(r.id)}`,
        [str(r.job), h("span", { class: "sub" }, str(r.trigger))],
        timeEl(r.started_at),
        isNum(r.ended_at) && isNum(r.started_at)
          ? duration(r.ended_at - r.started_at)
          : r.status === "running"
            ? "running"
            : "–",
        statusBadge(r.status),
        [
          countsText(r.counts),
          r.error ? h("span", { class: "sub error-text" }, str(r.error)) : null,
        ],
      ]),
      { rowHeaders: true, keep: "runs-table", stack: true },
    );
  }

  function renderIndex([index]) {
    if (!index.data) return empty(index.missing);
    const x = obj(index.data);
    const sources = Object.entries(obj(x.sources));
    const last = x.last_run ? obj(x.last_run) : null;
    const mismatch = x.configured_model && x.active_model !== x.configured_model;
    const fact = (label, ...value) => h("div", null, h("dt", null, label), h("dd", null, value));
    return [
      statList([
        ["Files", count(x.files)],
        ["Chunks", count(x.chunks)],
        ["Summaries", count(x.summaries)],
      ]),
      h(
        "dl",
        { class: "facts" },
        fact(
          "Files per source",
          sources.length ? sources.map(([n, v]) => `${n} ${count(v)}`).join(" · ") : "no sources",
        ),
        fact(
          "Searched with",
          h("code", null, str(x.active_model) || "no model yet"),
          mismatch ? ` (configured: ${str(x.configured_model)}; the next rebuild switches)` : null,
        ),
        fact(
          "Last build",
          last
            ? [
                timeEl(last.started_at),
                " · ",
                isNum(last.finished_at)
                  ? `took ${duration(last.finished_at - num(last.started_at))}`
                  : "not finished",
                last.stats ? [" · ", countsText(last.stats)] : null,
              ]
            : "never",
        ),
      ),
    ];
  }

  // ---------------------------------------------------------------------------------------
  // Bench: decode tokens/s and TTFT per model across runs

  /** The run's result for `metric` at its lowest concurrency (unbatched rows first). */
  function pickResult(run, metric) {
    const rows = arr(run.results)
      .map(obj)
      .filter((r) => r.metric === metric && isNum(r.p50));
    rows.sort(
      (a, b) =>
        num(a.concurrency ?? 1) - num(b.concurrency ?? 1) || num(a.batch_size) - num(b.batch_size),
    );
    return rows[0] || null;
  }

  function renderBench([bench]) {
    if (!bench.data) return empty(bench.missing);
    const runs = arr(obj(bench.data).runs)
      .map(obj)
      .map((r) => ({
        run: r,
        when: toDate(r.started_at),
        decode: pickResult(r, "decode_tps"),
        ttft: pickResult(r, "ttft_ms"),
      }))
      .filter((r) => r.when && (r.decode || r.ttft))
      .sort((a, b) => a.when - b.when);
    if (!runs.length) return empty("no run measured decode speed or time to first token");
    const hostsOf = new Map();
    for (const { run } of runs) {
      hostsOf.set(
        run.model,
        (hostsOf.get(run.model) || new Set()).add(`${run.host}/${run.device}`),
      );
    }
    // One line per model; a model benched on two devices gets a line per device.
    const seriesKey = (run) => {
      const several = hostsOf.get(run.model).size > 1;
      return several ? `${run.model} · ${run.host} ${run.device}` : str(run.model);
    };
    const keys = [...new Set(runs.map((r) => seriesKey(r.run)))];
    const lines = (pick) =>
      keys.map((k) =>
        runs
          .filter((r) => seriesKey(r.run) === k && r[pick])
          .map((r) => ({ when: r.when, value: r[pick].p50, run: r.run, row: r[pick] })),
      );
    return [
      h(
        "p",
        { class: "meta" },
        `${count(runs.length)} runs of ${count(keys.length)} models; ` +
          "medians (p50) at each run's lowest concurrency.",
      ),
      h(
        "div",
        { class: "charts" },
        h(
          "figure",
          null,
          h("figcaption", null, "Decode speed, tokens/s (higher is better)"),
          sized((width) => lineChart(keys, lines("decode"), "tok/s", width)),
        ),
        h(
          "figure",
          null,
          h("figcaption", null, "Time to first token, ms (lower is better)"),
          sized((width) => lineChart(keys, lines("ttft"), "ms", width)),
        ),
      ),
      legend(keys.map((k, i) => [lineSwatch(i), h("strong", null, k)])),
      h(
        "details",
        { "data-keep": "bench-table" },
        h("summary", null, "Show the runs as a table"),
        table(
          "Bench runs, oldest first",
          [
            { label: "Run", num: true },
            { label: "Started" },
            { label: "Model" },
            { label: "Device" },
            { label: "Status" },
            { label: "Decode tok/s", num: true },
            { label: "TTFT ms", num: true },
          ],
          runs.map((r) => [
            `#${count(r.run.id)}`,
            timeEl(r.run.started_at),
            str(r.run.model),
            `${str(r.run.host)} · ${str(r.run.device)}`,
            statusBadge(r.run.status),
            r.decode ? decimal(r.decode.p50, 1) : "–",
            r.ttft ? decimal(r.ttft.p50, 0) : "–",
          ]),
          { rowHeaders: true, stack: true },
        ),
      ),
    ];
  }

  function lineChart(keys, series, unit, width) {
    const height = 220;
    const m = { left: 48, right: 14, top: 12, bottom: 30 };
    const plotW = width - m.left - m.right;
    const plotH = height - m.top - m.bottom;
    const points = series.flat();
    if (!points.length) return h("p", { class: "empty" }, "No data — no run has this metric.");
    const { max, step } = niceScale(Math.max(...points.map((p) => p.value)) * 1.1);
    const t0 = Math.min(...points.map((p) => p.when.getTime()));
    const t1 = Math.max(...points.map((p) => p.when.getTime()));
    const span = t1 - t0 || 1;
    const x = (d) =>
      t1 === t0 ? m.left + plotW / 2 : m.left + 8 + ((d.getTime() - t0) / span) * (plotW - 16);
    const y = (v) => m.top + plotH - (v / max) * plotH;
    const root = svg("svg", {
      class: "chart",
      width,
      height,
      role: "img",
      "aria-label": `${unit} per run and model; the table below has the numbers.`,
    });
    for (let v = 0; v <= max + step / 2; v += step) {
      root.append(
        svg("line", { x1: m.left, x2: width - m.right, y1: y(v), y2: y(v), class: "grid" }),
        svg(
          "text",
          { x: m.left - 6, y: y(v) + 4, "text-anchor": "end", class: "axis" },
          decimal(v, 0),
        ),
      );
    }
    // Label each distinct day a run happened on, skipping those that would overlap.
    let lastX = -Infinity;
    const days = [...new Map(points.map((p) => [p.when.toDateString(), p.when])).values()].sort(
      (a, b) => a - b,
    );
    for (const d of days) {
      if (x(d) - lastX < 70) continue;
      lastX = x(d);
      root.append(
        svg(
          "text",
          { x: x(d), y: height - m.bottom + 16, "text-anchor": "middle", class: "axis" },
          fmt("date", { month: "short", day: "numeric" }).format(d),
        ),
      );
    }
    series.forEach((pts, i) => {
      if (!pts.length) return;
      root.append(
        svg("polyline", {
          points: pts.map((p) => `${x(p.when)},${y(p.value)}`).join(" "),
          fill: "none",
          stroke: PALETTE[i % PALETTE.length],
          "stroke-width": 2,
          "stroke-dasharray": DASHES[i % DASHES.length],
        }),
      );
      for (const p of pts) {
        root.append(
          marker(
            i,
            x(p.when),
            y(p.value),
            `${keys[i]}, run ${p.run.id} (${fmt("date", DATE_TIME).format(p.when)}): ` +
              `${decimal(p.value, 1)} ${unit} at concurrency ${p.row.concurrency ?? 1}`,
          ),
        );
      }
    });
    root.append(
      svg("line", { x1: m.left, x2: width - m.right, y1: y(0), y2: y(0), class: "baseline" }),
    );
    return root;
  }

  // ---------------------------------------------------------------------------------------
  // Which part draws from which snapshots

  const PARTS = [
    { part: "hosts", needs: ["status"], render: renderHosts },
    { part: "models", needs: ["models", "status"], render: renderModels },
    { part: "today", needs: ["costs"], render: renderToday },
    { part: "daily", needs: ["costs_daily"], render: renderDaily, stacked: true },
    { part: "tiers", needs: ["routing"], render: renderTiers },
    { part: "calls", needs: ["calls"], render: renderCalls },
    { part: "jobs", needs: ["jobs"], render: renderJobs },
    { part: "runs", needs: ["job_history"], render: renderRuns },
    { part: "index", needs: ["index"], render: renderIndex },
    { part: "bench", needs: ["bench"], render: renderBench },
  ];

  /** Re-render one part if its data (or its width, or the stack toggle) changed. A part that
   * throws on data it did not expect shows "no data" and leaves every other part alone. */
  function renderPart(spec) {
    const el = document.querySelector(`[data-part="${spec.part}"]`);
    if (!el) return;
    const inputs = spec.needs.map((n) => state.results[n] || { missing: "not loaded yet" });
    // The width is in the key so that a resize redraws the charts, and only those parts.
    const key = JSON.stringify([inputs, el.clientWidth, spec.stacked ? state.stack : null]);
    if (state.rendered[spec.part] === key) return;
    const fail = (err) => {
      console.warn(`tierd dashboard: the ${spec.part} part could not read its data`, err);
      el.replaceChildren(empty("the data is not in the expected shape"));
    };
    drawQueue = [];
    try {
      const content = spec.render(inputs, state.stack);
      keepingState(el, () => {
        el.replaceChildren(...[content].flat().filter(Boolean));
        for (const [box, draw] of drawQueue)
          box.replaceChildren(draw(Math.max(260, box.clientWidth)));
      });
    } catch (err) {
      fail(err);
    }
    drawQueue = [];
    state.rendered[spec.part] = key;
  }

  let drawQueue = [];
  /** A box for an SVG drawn to the box's own width once the box is in the page: SVG text
   * drawn at its real size stays readable on a phone, where a scaled viewBox shrinks it. */
  function sized(draw) {
    const box = h("div", { class: "sized" });
    drawQueue.push([box, draw]);
    return box;
  }

  /** Replacing a part's nodes would close its open <details> and reset its scrolled tables;
   * remember both by their data-keep names and put them back. */
  function keepingState(el, replace) {
    const kept = new Map();
    for (const node of el.querySelectorAll("[data-keep]")) {
      kept.set(node.dataset.keep, { open: node.open, top: node.scrollTop, left: node.scrollLeft });
    }
    replace();
    for (const node of el.querySelectorAll("[data-keep]")) {
      const was = kept.get(node.dataset.keep);
      if (!was) continue;
      if (node.tagName === "DETAILS") node.open = was.open;
      node.scrollTop = was.top;
      node.scrollLeft = was.left;
    }
  }

  function renderAll() {
    for (const spec of PARTS) renderPart(spec);
    renderMeta();
  }

  function renderMeta() {
    const el = document.getElementById("meta");
    const version = obj(state.results.status && state.results.status.data).version;
    const bits = [];
    if (state.mode === "live") {
      bits.push("Live");
      if (state.updatedAt) bits.push(["updated ", timeEl(state.updatedAt.getTime() / 1000)]);
      bits.push(`refreshes every ${count(state.everyMs / 1000)} s`);
    } else {
      bits.push("Snapshot");
      const stamps = Object.values(state.results)
        .map((r) => toDate(obj(r.data).generated_at))
        .filter(Boolean)
        .sort((a, b) => b - a);
      if (stamps.length) bits.push(["written ", timeEl(stamps[0].toISOString())]);
    }
    if (version) bits.push(`tierd ${version}`);
    const missing = Object.values(state.results).filter((r) => !r.data).length;
    if (missing)
      bits.push(
        `${count(missing)} of ${count(Object.keys(ROUTES).length)} data sources without data`,
      );
    el.replaceChildren(...bits.flatMap((b, i) => (i ? [" · ", b] : [b])).flat());
  }

  // ---------------------------------------------------------------------------------------
  // Loading: live routes or static snapshot files

  /** Where the JSON routes live: the page's own path less its /ui/ (a proxy prefix stays). */
  function apiBase() {
    const match = location.pathname.match(/^(.*)\/ui(\/.*)?$/);
    return match ? match[1] : "";
  }

  async function fetchRoute(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), FETCH_TIMEOUT_MS);
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    try {
      const res = await fetch(apiBase() + path, {
        headers,
        cache: "no-store",
        signal: controller.signal,
      });
      if (res.status === 401) return { auth: true };
      if (!res.ok) return { missing: `the daemon answered HTTP ${res.status}` };
      return { data: await res.json() };
    } catch (err) {
      return {
        missing:
          err.name === "AbortError"
            ? "the daemon did not answer in time"
            : "the daemon could not be reached or did not answer JSON",
      };
    } finally {
      clearTimeout(timer);
    }
  }

  const arrived = new Map();
  /** Called by each data/NAME.js of a static site. */
  window.tierdSnapshot = (name, data) => {
    arrived.set(String(name), data);
  };

  function loadSnapshot(name) {
    return new Promise((resolve) => {
      const tag = document.createElement("script");
      // A new URL each time, so the browser does not answer a rewritten snapshot from its cache.
      tag.src = `data/${encodeURIComponent(name)}.js?t=${Date.now()}`;
      tag.onload = () => {
        tag.remove();
        const got = arrived.has(name);
        const data = arrived.get(name);
        arrived.delete(name);
        resolve(
          got && data && typeof data === "object"
            ? { data }
            : { missing: "the snapshot file is unreadable" },
        );
      };
      tag.onerror = () => {
        tag.remove();
        resolve({ missing: "no snapshot file" });
      };
      document.head.append(tag);
    });
  }

  async function loadAll() {
    const names = Object.keys(ROUTES);
    const load = state.mode === "live" ? (n) => fetchRoute(ROUTES[n]) : loadSnapshot;
    const answers = await Promise.all(names.map(load));
    return Object.fromEntries(names.map((n, i) => [n, answers[i]]));
  }

  async function refresh() {
    if (state.busy || state.waitingForToken) return;
    state.busy = true;
    clearTimeout(state.timer);
    try {
      const results = await loadAll();
      if (Object.values(results).some((r) => r.auth)) {
        askForToken(Boolean(state.token));
        return;
      }
      state.results = results;
      state.updatedAt = new Date();
      renderAll();
    } finally {
      state.busy = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.waitingForToken) return;
    state.timer = setTimeout(() => {
      // A hidden tab need not poll the daemon; it catches up when it is shown again.
      if (document.hidden) schedule();
      else refresh();
    }, state.everyMs);
  }

  /** `?refresh=SECONDS` on the page's URL overrides the default pace (1 s at the least). */
  function refreshEvery() {
    const asked = Number(new URLSearchParams(location.search).get("refresh"));
    if (Number.isFinite(asked) && asked >= 1) return asked * 1000;
    return state.mode === "live" ? LIVE_EVERY_MS : STATIC_EVERY_MS;
  }

  // ---------------------------------------------------------------------------------------
  // The token, asked for once and kept for this tab

  function readToken() {
    try {
      return sessionStorage.getItem(TOKEN_KEY);
    } catch {
      return null; // storage can be off (private windows, some file:// setups)
    }
  }

  function saveToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_KEY, token);
      else sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // Kept in memory only, then: it lasts until the page is reloaded.
    }
  }

  function askForToken(wrong) {
    state.waitingForToken = true;
    state.token = null;
    saveToken(null);
    const form = document.getElementById("auth");
    document.getElementById("auth-note").textContent = wrong
      ? "That token was not accepted. Paste the daemon's server.token again."
      : "Paste the daemon's server.token. It is kept for this browser tab only.";
    document.getElementById("dashboard").hidden = true;
    form.hidden = false;
    const input = document.getElementById("auth-token");
    input.value = "";
    input.focus();
  }

  function onTokenSubmit(event) {
    event.preventDefault();
    const token = document.getElementById("auth-token").value.trim();
    if (!token) return;
    state.token = token;
    saveToken(token);
    state.waitingForToken = false;
    document.getElementById("auth").hidden = true;
    document.getElementById("dashboard").hidden = false;
    refresh();
  }

  // ---------------------------------------------------------------------------------------
  // Start

  function pageMode() {
    const marker = document.querySelector('meta[name="tierd-mode"]');
    if (location.protocol === "file:") return "static"; // no daemon behind a file
    return marker && marker.content === "static" ? "static" : "live";
  }

  function start() {
    state.mode = pageMode();
    state.everyMs = refreshEvery();
    document.documentElement.dataset.mode = state.mode;
    state.token = state.mode === "live" ? readToken() : null;
    document.getElementById("auth").addEventListener("submit", onTokenSubmit);
    for (const radio of document.querySelectorAll('input[name="stack"]')) {
      radio.addEventListener("change", () => {
        state.stack = radio.value;
        renderPart(PARTS.find((p) => p.part === "daily"));
      });
    }
    let resizeTimer = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(renderAll, 150);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && !state.busy) refresh();
    });
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
